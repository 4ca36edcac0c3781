"""The compiled forms (column-wise and per-study) agree exactly with rule-engine's evaluation."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rules.compiled import compile_rule_set
from rules.defaults import DEFAULT_RULE_SET, DEFAULT_TURNAROUND
from rules.evaluation import apply
from rules.facts import facts_table
from rules.language import check_condition, library_matches
from rules.model import RuleSet
from rules.one import apply_one
from rules.scalar import compile_predicate
from rules.vector import evaluate_table
from rules.vocabulary import StudyFacts

from ._support import BASE, conditions, rule_sets, studies, studies_for_condition, studies_near

SETTINGS = settings(
    max_examples=100, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)


@SETTINGS
@given(text=conditions, size=st.integers(1, 25), data=st.data())
def test_compiled_condition_agrees_with_rule_engine(
    text: str, size: int, data: st.DataObject
) -> None:
    batch = [data.draw(studies_for_condition(text, i + 1)) for i in range(size)]
    checked = check_condition(text)
    predicate = compile_predicate(checked.ir)
    column = evaluate_table(checked.ir, facts_table(batch))
    for row, study in enumerate(batch):
        expected = library_matches(checked, study)
        assert predicate(study) is expected or predicate(study) == expected, text
        assert bool(column[row]) == expected, text


@settings(
    max_examples=80, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(rule_set=rule_sets(), size=st.integers(1, 20), defaults=st.booleans(), data=st.data())
def test_column_wise_apply_agrees_with_per_study(
    rule_set: RuleSet, size: int, defaults: bool, data: st.DataObject
) -> None:
    batch = [data.draw(studies_near(rule_set, i + 1)) for i in range(size)]
    compiled = compile_rule_set(rule_set)
    default = DEFAULT_TURNAROUND if defaults else None
    evaluation = apply(compiled, facts_table(batch), default_turnaround=default)
    for row, study in enumerate(batch):
        assert evaluation[row] == apply_one(compiled, study, default_turnaround=default)


@settings(
    max_examples=40, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(batch=st.lists(studies(), min_size=1, max_size=30))
def test_default_rule_set_agrees(batch: list[StudyFacts]) -> None:
    batch = [dataclasses.replace(s, study_id=i + 1) for i, s in enumerate(batch)]
    compiled = compile_rule_set(DEFAULT_RULE_SET)
    evaluation = apply(compiled, facts_table(batch), default_turnaround=DEFAULT_TURNAROUND)
    for study in batch:
        assert evaluation.effect_for(study.study_id) == apply_one(
            compiled, study, default_turnaround=DEFAULT_TURNAROUND
        )
        # Every rule's own condition still agrees with rule-engine on real policy text.
        for rule in compiled.rules:
            assert rule.predicate(study) == library_matches(rule.checked, study)


OPERATORS = ["==", "!=", "<", "<=", ">", ">="]


@pytest.mark.parametrize("op", OPERATORS)
@pytest.mark.parametrize(
    ("attr", "literal", "values"),
    [
        ("minutes_until_due", "30", [29, 30, 31]),
        ("minutes_until_due", "-30", [-31, -30, -29]),
        ("patient_age", "16", [15, 16, 17]),
        ("ai_score", "0.8", [0.7999999999999999, 0.8, 0.8000000000000002]),
        ("wrvu", "1.5", [1.4, 1.5, 1.6]),
        ("minutes_waiting - 30", "0", [29, 30, 31]),
    ],
)
def test_every_operator_on_its_boundary(
    op: str, attr: str, literal: str, values: list[float]
) -> None:
    name = attr.split()[0]
    checked = check_condition(f"{attr} {op} {literal}")
    batch = [dataclasses.replace(BASE, study_id=i + 1, **{name: v}) for i, v in enumerate(values)]
    column = evaluate_table(checked.ir, facts_table(batch))
    predicate = compile_predicate(checked.ir)
    for row, study in enumerate(batch):
        expected = library_matches(checked, study)
        assert predicate(study) == expected
        assert bool(column[row]) == expected
