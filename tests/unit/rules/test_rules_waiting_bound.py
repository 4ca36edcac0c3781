"""The rule action that holds the balancer's waiting bound across readers: stored, validated,
decided by precedence for the whole department, warned of when two rules disagree, and turned
into the planner's parameters."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from application.planning.rule_effects import rule_snapshot
from balancer.model import Params, Snapshot
from domain.enums import Priority
from rules.actions import BY_KIND
from rules.compiled import compile_rule_set
from rules.effects import RuleSetEffect
from rules.errors import ErrorCode, WarningCode
from rules.evaluation import apply
from rules.facts import facts_table
from rules.lint import contradictions
from rules.model import DEFAULT_WAITING_MARGIN_MINUTES, HoldWaitingBound, Rule, RuleSet, SetPriority
from rules.one import apply_one
from rules.serialization import rule_set_from_data, rule_set_to_data
from rules.validation import validate_rule_set
from tests.unit.rules._support import facts


def _effect(*rules: Rule) -> RuleSetEffect:
    studies = [facts(study_id=1), facts(study_id=2, priority=Priority.URGENT)]
    return apply(compile_rule_set(RuleSet(rules)), facts_table(studies)).rule_set


def test_it_round_trips_and_a_stored_action_without_a_margin_holds_the_default() -> None:
    rule_set = RuleSet((Rule("bound", "true", (HoldWaitingBound(45.0),)),))
    data = rule_set_to_data(rule_set)
    assert data[0]["actions"] == [{"kind": "hold_waiting_bound", "margin_minutes": 45.0}]
    assert rule_set_from_data(data) == (rule_set, [])
    bare = [{"name": "b", "condition": "true", "actions": [{"kind": "hold_waiting_bound"}]}]
    read, errors = rule_set_from_data(bare)
    assert errors == []
    assert read.rules[0].actions == (HoldWaitingBound(DEFAULT_WAITING_MARGIN_MINUTES),)
    assert BY_KIND["hold_waiting_bound"].single_valued


@pytest.mark.parametrize("margin", [0.0, -5.0, float("nan"), float("inf")])
def test_a_margin_that_is_not_a_positive_number_of_minutes_is_refused(margin: float) -> None:
    [error] = validate_rule_set(RuleSet((Rule("b", "true", (HoldWaitingBound(margin),)),)))
    assert (error.field, error.code) == ("actions[0].margin_minutes", ErrorCode.IMPOSSIBLE_VALUE)
    assert "margin" in error.message


def test_unreadable_stored_margin_names_its_field() -> None:
    data = [
        {
            "name": "b",
            "condition": "true",
            "actions": [{"kind": "hold_waiting_bound", "margin_minutes": "soon"}],
        }
    ]
    _, [error] = rule_set_from_data(data)
    assert (error.field, error.code) == ("actions[0].margin_minutes", ErrorCode.INVALID)


def test_the_highest_precedence_rule_that_matches_an_open_study_decides() -> None:
    loose = Rule("loose", "true", (HoldWaitingBound(60.0),), order=20)
    tight = Rule("tight", 'priority == "URGENT"', (HoldWaitingBound(15.0),), order=10)
    none = Rule("no STAT open", 'priority == "STAT"', (HoldWaitingBound(5.0),), order=1)
    effect = _effect(loose, tight, none)
    assert (effect.waiting_margin, effect.waiting_source) == (15.0, "tight")
    # Without a rule that matches, the bound is not held.
    effect = _effect(none, Rule("p", "true", (SetPriority(Priority.URGENT),)))
    assert (effect.waiting_margin, effect.waiting_source) == (None, None)


def test_each_matched_study_is_told_the_bound_is_held() -> None:
    compiled = compile_rule_set(RuleSet((Rule("bound", "true", (HoldWaitingBound(20.0),)),)))
    one = apply_one(compiled, facts(study_id=1))
    assert one == apply(compiled, facts_table([facts(study_id=1)])).effect_for(1)
    [applied] = one.applied_rules
    assert [(c.field, c.value) for c in applied.changes] == [
        ("waiting_bound", "held, margin 20 min")
    ]


def test_two_rules_of_one_order_with_different_margins_are_a_contradiction() -> None:
    rules = (
        Rule("a", "true", (HoldWaitingBound(20.0),), order=10),
        Rule("b", 'priority == "URGENT"', (HoldWaitingBound(40.0),), order=10),
    )
    compiled = compile_rule_set(RuleSet(rules))
    evaluation = apply(compiled, facts_table([facts(study_id=1), facts(study_id=2)]))
    assert contradictions(evaluation) == []  # b matches no open study: a decides alone
    evaluation = apply(
        compiled, facts_table([facts(study_id=1), facts(study_id=2, priority=Priority.URGENT)])
    )
    [warning] = contradictions(evaluation)
    assert warning.code is WarningCode.CONTRADICTION
    assert warning.rule_names == ("a", "b") and "waiting margins" in warning.message


def test_the_planner_holds_the_bound_at_the_rules_margin() -> None:
    now = datetime(2025, 3, 3, 12, tzinfo=UTC)
    snapshot = Snapshot(now, (), ())
    _, params = rule_snapshot(snapshot, Params(), {}, RuleSetEffect(), {})
    assert not params.hold_overtake_bound  # no rule holds it: the balancer's default
    held = RuleSetEffect(waiting_margin=20.0, waiting_source="bound")
    same, params = rule_snapshot(snapshot, Params(), {}, held, {})
    assert same is snapshot
    assert params.hold_overtake_bound and params.overtake_margin_minutes == 20.0
    assert params.age_limit(Priority.ROUTINE) == Params().age_limit(Priority.ROUTINE)
