"""Save-time errors (blocking) and warnings (not blocking)."""

from __future__ import annotations

import pytest

from domain.enums import Modality, Priority, Subspecialty
from rules.compiled import InvalidRuleSet, compile_rule_set
from rules.errors import ErrorCode, WarningCode
from rules.evaluation import apply
from rules.facts import facts_table
from rules.lint import contradictions, unassignable, unmatched_rules
from rules.model import (
    Action,
    CapPerRadiologist,
    EscalatePriority,
    ExcludeSites,
    RequireSubspecialty,
    RestrictRadiologists,
    Rule,
    RuleSet,
    SetPriority,
    SetTurnaround,
    SetWeights,
)
from rules.validation import validate_rule_set

from ._support import facts


def errors_of(*rules: Rule, **kw: object) -> list[tuple[int | None, str, ErrorCode]]:
    found = validate_rule_set(RuleSet(rules), **kw)  # type: ignore[arg-type]
    return [(e.rule_index, e.field, e.code) for e in found]


def ok(name: str = "r", condition: str = "true", *actions: Action, order: int = 10) -> Rule:
    return Rule(name, condition, actions or (SetPriority(Priority.STAT),), order=order)


def test_a_good_rule_set_has_no_errors() -> None:
    assert errors_of(ok("a"), ok("b", 'modality == "CT"', SetTurnaround(30))) == []


def test_condition_errors_carry_rule_field_and_position() -> None:
    (error,) = validate_rule_set(
        RuleSet(
            (ok("a"), ok("b", 'modality == "CT" and (')),
        )
    )
    assert (error.rule_index, error.rule_name, error.field) == (1, "b", "condition")
    assert error.code is ErrorCode.SYNTAX and error.position is not None


@pytest.mark.parametrize(
    ("condition", "code"),
    [
        ('modalty == "CT"', ErrorCode.UNKNOWN_ATTRIBUTE),
        ("priority == 1", ErrorCode.TYPE_MISMATCH),
        ('modality == "XX"', ErrorCode.UNKNOWN_VALUE),
        ("hour_of_day == 30", ErrorCode.VALUE_OUT_OF_RANGE),
        ('__import__("os")', ErrorCode.UNKNOWN_ATTRIBUTE),
    ],
)
def test_condition_error_codes(condition: str, code: ErrorCode) -> None:
    assert errors_of(ok("a", condition)) == [(0, "condition", code)]


@pytest.mark.parametrize(
    ("action", "field", "code"),
    [
        (SetTurnaround(-5), "actions[0].minutes", ErrorCode.IMPOSSIBLE_VALUE),
        (SetTurnaround(0), "actions[0].minutes", ErrorCode.IMPOSSIBLE_VALUE),
        (EscalatePriority(), "actions[0].due_within_minutes", ErrorCode.REQUIRED),
        (
            EscalatePriority(due_within_minutes=-1),
            "actions[0].due_within_minutes",
            ErrorCode.IMPOSSIBLE_VALUE,
        ),
        (
            EscalatePriority(waiting_over_minutes=-60),
            "actions[0].waiting_over_minutes",
            ErrorCode.IMPOSSIBLE_VALUE,
        ),
        (
            RequireSubspecialty("SPINE"),
            "actions[0].subspecialty",  # type: ignore[arg-type]
            ErrorCode.UNKNOWN_VALUE,
        ),
        (SetPriority("ASAP"), "actions[0].priority", ErrorCode.UNKNOWN_VALUE),  # type: ignore[arg-type]
        (CapPerRadiologist(0), "actions[0].max_open", ErrorCode.IMPOSSIBLE_VALUE),
        (
            CapPerRadiologist(1, stat_over_price=-5.0),
            "actions[0].stat_over_price",
            ErrorCode.IMPOSSIBLE_VALUE,
        ),
        (
            CapPerRadiologist(1, stat_over_price=float("inf")),
            "actions[0].stat_over_price",
            ErrorCode.IMPOSSIBLE_VALUE,
        ),
        (RestrictRadiologists(frozenset()), "actions[0].radiologist_ids", ErrorCode.REQUIRED),
        (SetWeights(), "actions[0].weights", ErrorCode.REQUIRED),
        (SetWeights(balance=-1.0), "actions[0].balance", ErrorCode.IMPOSSIBLE_VALUE),
        (SetWeights(lateness=float("nan")), "actions[0].lateness", ErrorCode.IMPOSSIBLE_VALUE),
    ],
)
def test_impossible_action_values(action: Action, field: str, code: ErrorCode) -> None:
    assert errors_of(ok("a", "true", action)) == [(0, field, code)]


def test_unknown_radiologists_and_sites_checked_against_the_callers_sets() -> None:
    rules = (
        ok("a", 'site == "MOON"', RestrictRadiologists(frozenset({1, 99}))),
        ok("b", "true", ExcludeSites(frozenset({"MARS"}))),
    )
    found = errors_of(*rules, known_radiologist_ids={1, 2}, known_sites={"MAIN"})
    assert found == [
        (0, "condition", ErrorCode.UNKNOWN_SITE),
        (0, "actions[0].radiologist_ids", ErrorCode.UNKNOWN_RADIOLOGIST),
        (1, "actions[0].sites", ErrorCode.UNKNOWN_SITE),
    ]
    assert errors_of(*rules) == []  # without the sets nothing can be checked


def test_rule_level_errors() -> None:
    assert errors_of(ok(" ")) == [(0, "name", ErrorCode.REQUIRED)]
    assert errors_of(ok("a"), ok("a")) == [(1, "name", ErrorCode.DUPLICATE_NAME)]
    assert errors_of(ok("a", order=-1)) == [(0, "order", ErrorCode.IMPOSSIBLE_VALUE)]
    assert errors_of(Rule("a", "true", ())) == [(0, "actions", ErrorCode.REQUIRED)]
    assert errors_of(ok("a", "true", SetPriority(Priority.STAT), SetPriority(Priority.URGENT))) == [
        (0, "actions", ErrorCode.INVALID)
    ]


def test_compile_refuses_invalid_conditions_with_the_same_errors() -> None:
    with pytest.raises(InvalidRuleSet) as caught:
        compile_rule_set(RuleSet((ok("a", "priority == 1"),)))
    assert caught.value.errors[0].code is ErrorCode.TYPE_MISMATCH


# Warnings
def _evaluate(*rules: Rule) -> tuple[object, object]:
    knee = facts(study_id=2, modality=Modality.MR, body_part="KNEE", subspecialty=Subspecialty.MSK)
    table = facts_table([facts(study_id=1), knee])
    return apply(compile_rule_set(RuleSet(rules)), table), table


def test_rule_matching_no_open_study() -> None:
    evaluation, table = _evaluate(ok("nm", 'modality == "NM"'), ok("ct", 'modality == "CT"'))
    (warning,) = unmatched_rules(evaluation, table)  # type: ignore[arg-type]
    assert warning.code is WarningCode.MATCHES_NO_STUDY and warning.rule_names == ("nm",)


def test_contradiction_at_the_same_order_on_overlapping_studies() -> None:
    evaluation, _ = _evaluate(
        ok("a", 'modality == "CT"', RequireSubspecialty(Subspecialty.NEURO)),
        ok("b", 'body_part == "HEAD"', RequireSubspecialty(Subspecialty.BODY)),
        ok("c", 'modality == "MR"', RequireSubspecialty(Subspecialty.MSK)),  # no overlap
        ok("d", 'body_part == "HEAD"', RequireSubspecialty(Subspecialty.BODY), order=20),
    )
    (warning,) = contradictions(evaluation)  # type: ignore[arg-type]
    assert warning.code is WarningCode.CONTRADICTION
    assert warning.rule_names == ("a", "b") and warning.study_ids == (1,)


def test_same_value_or_different_order_is_no_contradiction() -> None:
    evaluation, _ = _evaluate(
        ok("a", "true", SetPriority(Priority.STAT)),
        ok("b", "true", SetPriority(Priority.STAT)),
        ok("c", "true", SetPriority(Priority.URGENT), order=20),
    )
    assert contradictions(evaluation) == []  # type: ignore[arg-type]


def test_contradicting_weights_and_empty_restrictions() -> None:
    evaluation, _ = _evaluate(
        ok("w1", "true", SetWeights(lateness=1.0)),
        ok("w2", "true", SetWeights(lateness=2.0)),
        ok("r1", "true", RestrictRadiologists(frozenset({1}))),
        ok("r2", "true", RestrictRadiologists(frozenset({2})), order=30),
    )
    codes = [(w.code, w.rule_names) for w in contradictions(evaluation)]  # type: ignore[arg-type]
    assert (WarningCode.CONTRADICTION, ("w1", "w2")) in codes
    assert (WarningCode.CONTRADICTION, ()) in codes  # nobody left allowed


def test_no_eligible_radiologist_hook() -> None:
    evaluation, _ = _evaluate(
        ok("neuro", 'modality == "CT"', RequireSubspecialty(Subspecialty.NEURO))
    )
    on_shift = {Subspecialty.MSK}
    (warning,) = unassignable(
        evaluation,  # type: ignore[arg-type]
        lambda e: e.required_subspecialty in on_shift,
    )
    assert warning.code is WarningCode.NO_ELIGIBLE_RADIOLOGIST and warning.study_ids == (1,)
