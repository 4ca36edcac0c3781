"""Each action and the precedence semantics, through both evaluators."""

from __future__ import annotations

from datetime import UTC, datetime

from application.planning.rule_effects import rule_snapshot
from balancer import Params, Snapshot
from domain.enums import PatientClass, Priority, Subspecialty
from rules.actions import BY_KIND
from rules.compiled import compile_rule_set
from rules.defaults import DEFAULT_RULE_SET, DEFAULT_TURNAROUND
from rules.effects import Effect, Weights
from rules.evaluation import Evaluation, apply
from rules.facts import facts_table
from rules.model import (
    Action,
    CapPerRadiologist,
    EscalatePriority,
    ExcludeRadiologists,
    ExcludeSites,
    RequireSubspecialty,
    RestrictRadiologists,
    RestrictSites,
    Rule,
    RuleSet,
    SetPriority,
    SetTurnaround,
    SetWeights,
)
from rules.one import apply_one
from rules.vocabulary import StudyFacts

from ._support import facts

HEAD_CT = 'modality == "CT" and body_part == "HEAD"'


def rule(
    name: str,
    actions: tuple[Action, ...],
    condition: str = "true",
    order: int = 10,
    enabled: bool = True,
) -> Rule:
    return Rule(name, condition, actions, order=order, enabled=enabled)


def evaluate(
    rules: list[Rule], *studies: StudyFacts, **kw: object
) -> tuple[Evaluation, list[Effect]]:
    """Both evaluators; asserts they agree and returns the column-wise result too."""
    studies = studies or (facts(),)
    compiled = compile_rule_set(RuleSet(tuple(rules)))
    evaluation = apply(compiled, facts_table(list(studies)), **kw)  # type: ignore[arg-type]
    effects = [apply_one(compiled, s, **kw) for s in studies]  # type: ignore[arg-type]
    assert list(evaluation) == effects
    return evaluation, effects


def one(rules: list[Rule], study: StudyFacts | None = None, **kw: object) -> Effect:
    return evaluate(rules, study or facts(), **kw)[1][0]


def test_no_rules_changes_nothing() -> None:
    effect = one([])
    assert effect.priority is Priority.ROUTINE and effect.turnaround_minutes is None
    assert effect.required_subspecialty is Subspecialty.NEURO and effect.applied_rules == ()
    assert effect.allowed_radiologists is None and effect.cap_groups == frozenset()


def test_set_priority_and_explanation() -> None:
    effect = one([rule("stat", (SetPriority(Priority.STAT),), HEAD_CT)])
    assert effect.priority is Priority.STAT and effect.ordered_priority is Priority.ROUTINE
    (applied,) = effect.applied_rules
    assert applied.rule_name == "stat" and applied.changes[0].field == "priority"
    assert applied.changes[0].value == "STAT" and applied.changes[0].applied


def test_lower_order_wins_per_field_and_the_loser_is_explained() -> None:
    effect = one(
        [
            rule("late", (SetPriority(Priority.URGENT), SetTurnaround(120)), order=20),
            rule("early", (SetPriority(Priority.STAT),), order=10),
        ]
    )
    assert effect.priority is Priority.STAT
    assert effect.turnaround_minutes == 120  # "early" says nothing about turnaround
    late = next(a for a in effect.applied_rules if a.rule_name == "late")
    priority_change = next(c for c in late.changes if c.field == "priority")
    assert not priority_change.applied and priority_change.overridden_by == "early"


def test_equal_order_falls_back_to_position() -> None:
    effect = one(
        [
            rule("first", (RequireSubspecialty(Subspecialty.BODY),)),
            rule("second", (RequireSubspecialty(Subspecialty.CHEST),)),
        ]
    )
    assert effect.required_subspecialty is Subspecialty.BODY


def test_disabled_rules_do_nothing() -> None:
    effect = one([rule("off", (SetPriority(Priority.STAT),), enabled=False)])
    assert effect.priority is Priority.ROUTINE and effect.applied_rules == ()


def test_turnaround_moves_the_due_time() -> None:
    study = facts(minutes_waiting=20, minutes_until_due=600)
    effect = one([rule("t", (SetTurnaround(60),))], study)
    assert effect.turnaround_minutes == 60
    assert effect.minutes_until_due == 40 and effect.due_shift_minutes == -560


def test_priority_change_takes_the_default_turnaround_of_the_new_priority() -> None:
    study = facts(minutes_waiting=10, patient_class=PatientClass.ED)
    effect = one(
        [rule("stat", (SetPriority(Priority.STAT),))], study, default_turnaround=DEFAULT_TURNAROUND
    )
    assert effect.turnaround_minutes == 30 and effect.minutes_until_due == 20
    assert one([rule("stat", (SetPriority(Priority.STAT),))], study).turnaround_minutes is None


def test_escalation_when_due_soon_is_inclusive_and_one_level() -> None:
    escalate = [rule("near", (EscalatePriority(due_within_minutes=30),))]
    assert one(escalate, facts(minutes_until_due=30)).priority is Priority.URGENT
    assert one(escalate, facts(minutes_until_due=31)).priority is Priority.ROUTINE
    assert one(escalate, facts(minutes_until_due=31)).applied_rules == ()


def test_escalation_when_waiting_long_is_strict_and_can_name_the_target() -> None:
    escalate = [rule("old", (EscalatePriority(to=Priority.STAT, waiting_over_minutes=1440),))]
    assert one(escalate, facts(minutes_waiting=1441)).priority is Priority.STAT
    assert one(escalate, facts(minutes_waiting=1440)).priority is Priority.ROUTINE


def test_escalation_never_lowers_and_sees_the_new_turnaround() -> None:
    rules = [
        rule("t", (SetTurnaround(60),)),
        rule("near", (EscalatePriority(to=Priority.URGENT, due_within_minutes=30),)),
    ]
    effect = one(rules, facts(priority=Priority.STAT, minutes_waiting=45, minutes_until_due=900))
    assert effect.priority is Priority.STAT  # already above the target
    effect = one(rules, facts(minutes_waiting=45, minutes_until_due=900))
    assert effect.priority is Priority.URGENT  # due in 15 after the new 60-minute target


def test_routing_rules_see_the_effective_priority() -> None:
    rules = [
        rule("bleed", (SetPriority(Priority.STAT),), 'ai_flag == "bleed"'),
        rule("one STAT each", (CapPerRadiologist(1),), 'priority == "STAT"', order=50),
    ]
    evaluation, (flagged, plain) = evaluate(rules, facts(ai_flag="bleed"), facts(study_id=2))
    assert flagged.cap_groups == frozenset({"one STAT each"})
    assert plain.cap_groups == frozenset()
    assert evaluation.rule_set.caps == {"one STAT each": 1}


def test_a_bending_cap_reaches_the_snapshot_and_a_held_one_is_stored_as_before() -> None:
    rules = [
        rule("one STAT each", (CapPerRadiologist(1, stat_over_price=60.0),), 'priority == "STAT"'),
        rule("two MR each", (CapPerRadiologist(2),), "true", order=60),
    ]
    evaluation, _ = evaluate(rules, facts(priority=Priority.STAT))
    assert evaluation.rule_set.caps == {"one STAT each": 1, "two MR each": 2}
    assert evaluation.rule_set.cap_bends == {"one STAT each": 60.0}
    kind = BY_KIND["cap_per_radiologist"]
    assert kind.to_data(CapPerRadiologist(2)) == {"max_open": 2}
    assert kind.to_data(CapPerRadiologist(1, 60.0)) == {"max_open": 1, "stat_over_price": 60.0}
    snapshot, _ = rule_snapshot(
        Snapshot(datetime(2025, 3, 3, 12, tzinfo=UTC), (), ()),
        Params(),
        {},
        evaluation.rule_set,
        {},
    )
    assert dict(snapshot.cap_bends) == {"one STAT each": 60.0}


def test_radiologist_restrictions_intersect_and_exclusions_add_up() -> None:
    effect = one(
        [
            rule("a", (RestrictRadiologists(frozenset({1, 2, 3})),)),
            rule("b", (RestrictRadiologists(frozenset({2, 3, 4})),), order=99),
            rule("c", (ExcludeRadiologists(frozenset({3})),)),
            rule("d", (ExcludeRadiologists(frozenset({9})),)),
        ]
    )
    assert effect.allowed_radiologists == frozenset({2, 3})
    assert effect.excluded_radiologists == frozenset({3, 9})
    assert effect.may_read(2, "MAIN") and not effect.may_read(3, "MAIN")
    assert not effect.may_read(1, "MAIN")


def test_site_restrictions() -> None:
    effect = one(
        [
            rule("a", (RestrictSites(frozenset({"MAIN", "NORTH"})),)),
            rule("b", (ExcludeSites(frozenset({"NORTH"})),)),
        ]
    )
    assert effect.allowed_sites == frozenset({"MAIN", "NORTH"})
    assert effect.may_read(1, "MAIN") and not effect.may_read(1, "NORTH")
    assert not effect.may_read(1, "SOUTH")


def test_weights_are_set_level_lowest_order_first_per_weight() -> None:
    evaluation, _ = evaluate(
        [
            rule("night", (SetWeights(lateness=3.0, balance=0.5),), "hour_of_day >= 22", order=10),
            rule("base", (SetWeights(lateness=1.0, fairness=2.0),), order=20),
            rule("never", (SetWeights(stability=9.0),), 'modality == "NM"', order=5),
        ],
        facts(hour_of_day=23),
    )
    assert evaluation.rule_set.weights == Weights(lateness=3.0, balance=0.5, fairness=2.0)
    assert evaluation.rule_set.weight_sources == {
        "lateness": "night",
        "balance": "night",
        "fairness": "base",
    }


def test_rules_do_not_chain_within_urgency() -> None:
    # Urgency conditions see the priority as ordered, so rule order cannot make a loop.
    rules = [
        rule("up", (SetPriority(Priority.STAT),), 'priority == "ROUTINE"'),
        rule("down", (SetPriority(Priority.ROUTINE),), 'priority == "STAT"', order=20),
    ]
    assert one(rules).priority is Priority.STAT


def test_default_rule_set_on_the_demo_cases() -> None:
    compiled = compile_rule_set(DEFAULT_RULE_SET)
    stroke = apply_one(compiled, facts(), default_turnaround=DEFAULT_TURNAROUND)
    assert stroke.priority is Priority.STAT and stroke.turnaround_minutes == 30
    assert stroke.required_subspecialty is Subspecialty.NEURO
    assert "One open STAT per radiologist" in stroke.cap_groups
    child = apply_one(compiled, facts(patient_class=PatientClass.OUTPATIENT, patient_age=6))
    assert child.required_subspecialty is Subspecialty.PEDIATRIC
    # The AI triage path: an outpatient head CT flagged as a bleed becomes STAT to neuro.
    bleed = apply_one(
        compiled,
        facts(
            patient_class=PatientClass.OUTPATIENT, ai_flag="intracranial_hemorrhage", ai_score=0.93
        ),
    )
    assert bleed.priority is Priority.STAT
    assert bleed.applied_rules[0].rule_name == "AI suspected bleed"


def test_evaluation_lookup_and_changed_rows() -> None:
    evaluation, _ = evaluate(
        [rule("stat", (SetPriority(Priority.STAT),), 'site == "NORTH"')],
        facts(study_id=7),
        facts(study_id=8, site="NORTH"),
    )
    assert evaluation.effect_for(8).priority is Priority.STAT
    assert list(evaluation.changed_rows()) == [1]
    assert evaluation.effect(1, explain=False).applied_rules == ()
