"""A subspecialty requirement that is only a preference: data round trip and evaluation."""

from __future__ import annotations

from domain.enums import Subspecialty
from rules import (
    RequireSubspecialty,
    Rule,
    RuleSet,
    apply,
    apply_one,
    compile_rule_set,
    facts_table,
    rule_set_from_data,
    rule_set_to_data,
)
from rules.errors import ErrorCode
from tests.unit.rules._support import facts

PREFER = RuleSet(
    (
        Rule(
            "children",
            "patient_age < 16",
            (RequireSubspecialty(Subspecialty.PEDIATRIC, only_if_on_shift=True),),
            order=10,
        ),
        Rule("breast", 'modality == "MG"', (RequireSubspecialty(Subspecialty.BREAST),), order=20),
    )
)


def test_the_preference_flag_survives_storage() -> None:
    data = rule_set_to_data(PREFER)
    assert data[0]["actions"][0]["only_if_on_shift"] is True  # type: ignore[index]
    again, errors = rule_set_from_data(data)
    assert errors == [] and again == PREFER


def test_a_flag_that_is_not_a_boolean_is_an_error() -> None:
    data = rule_set_to_data(PREFER)
    data[0]["actions"][0]["only_if_on_shift"] = "false"  # type: ignore[index]
    _, errors = rule_set_from_data(data)
    assert [(e.field, e.code) for e in errors] == [
        ("actions[0].only_if_on_shift", ErrorCode.INVALID)
    ]


def test_both_evaluators_mark_the_winning_preference() -> None:
    compiled = compile_rule_set(PREFER)
    child, adult = facts(study_id=1, patient_age=9), facts(study_id=2, patient_age=50)
    evaluation = apply(compiled, facts_table([child, adult]))
    for row, study in enumerate([child, adult]):
        column_wise, one = evaluation.effect(row), apply_one(compiled, study)
        assert column_wise.subspecialty_if_on_shift == one.subspecialty_if_on_shift
    assert evaluation.effect(0).subspecialty_if_on_shift is True
    assert evaluation.effect(0).required_subspecialty == Subspecialty.PEDIATRIC
    assert evaluation.effect(1).subspecialty_if_on_shift is False
