"""Serialization round trip, bad input as typed errors, preview of a draft, the vocabulary."""

from __future__ import annotations

import json

from domain.enums import Priority, Subspecialty
from rules import (
    DEFAULT_RULE_SET,
    VOCABULARY,
    AttributeType,
    ErrorCode,
    Rule,
    RuleSet,
    SetPriority,
    apply,
    changes,
    compile_rule_set,
    facts_table,
    rule_set_from_data,
    rule_set_to_data,
)

from ._support import facts


def test_round_trip_through_json() -> None:
    data = json.loads(json.dumps(rule_set_to_data(DEFAULT_RULE_SET)))
    rule_set, errors = rule_set_from_data(data)
    assert errors == [] and rule_set == DEFAULT_RULE_SET


def test_bad_data_comes_back_as_typed_errors() -> None:
    data = [
        {
            "name": "a",
            "condition": "true",
            "order": 5,
            "actions": [
                {"kind": "require_subspecialty", "subspecialty": "SPINE"},
                {"kind": "teleport"},
                {"kind": "set_turnaround", "minutes": "soon"},
                {"kind": "set_priority"},
            ],
        }
    ]
    _, errors = rule_set_from_data(data)
    assert [(e.field, e.code) for e in errors] == [
        ("actions[0].subspecialty", ErrorCode.UNKNOWN_VALUE),
        ("actions[1].kind", ErrorCode.INVALID),
        ("actions[2].minutes", ErrorCode.INVALID),
        ("actions[3]", ErrorCode.REQUIRED),
    ]
    assert rule_set_from_data({"not": "a list"})[1][0].code is ErrorCode.INVALID


def test_preview_lists_only_what_the_draft_changes() -> None:
    table = facts_table([facts(study_id=1), facts(study_id=2, site="NORTH")])
    active = apply(compile_rule_set(RuleSet()), table)
    draft = apply(
        compile_rule_set(
            RuleSet((Rule("north stat", 'site == "NORTH"', (SetPriority(Priority.STAT),)),))
        ),
        table,
    )
    (change,) = changes(active, draft)
    assert change.study_id == 2 and change.fields == ("priority",)
    assert change.before.priority is Priority.ROUTINE and change.after.priority is Priority.STAT
    assert changes(draft, draft) == []


def test_vocabulary_lists_types_and_allowed_values() -> None:
    by_name = {a.name: a for a in VOCABULARY}
    assert by_name["subspecialty"].values == tuple(s.value for s in Subspecialty)
    assert by_name["weekday"].values[0] == "MON"
    assert by_name["hour_of_day"].type is AttributeType.INT
    assert (by_name["ai_score"].minimum, by_name["ai_score"].maximum) == (0, 1)
    assert len(VOCABULARY) == 16


def test_no_open_studies() -> None:
    evaluation = apply(compile_rule_set(DEFAULT_RULE_SET), facts_table([]))
    assert len(evaluation) == 0 and list(evaluation.changed_rows()) == []
    assert evaluation.rule_set.caps == {"One open STAT per radiologist": 1}
