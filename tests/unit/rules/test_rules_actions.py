"""The action registry, and the action that arrived as one file: same-patient grouping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from domain.enums import PatientClass, Priority, Subspecialty
from rules.actions import BY_KIND, KINDS, MARKS
from rules.actions.same_patient import MARK, GroupSamePatient
from rules.compiled import compile_rule_set
from rules.errors import ErrorCode
from rules.evaluation import apply
from rules.facts import facts_table
from rules.model import Rule, RuleSet, SetPriority, SetWeights
from rules.one import apply_one
from rules.serialization import rule_set_from_data, rule_set_to_data
from rules.validation import validate_rule_set
from tests.unit.rules._support import facts

GROUP = Rule("one reader per patient", 'modality == "CT"', (GroupSamePatient(),))


def test_every_kind_is_registered_once_with_a_distinct_dataclass() -> None:
    assert len({k.kind for k in KINDS}) == len({k.action for k in KINDS}) == len(KINDS)
    assert BY_KIND["group_same_patient"].action is GroupSamePatient
    assert {GroupSamePatient: MARK} == MARKS


def test_grouping_round_trips_through_stored_data() -> None:
    rule_set = RuleSet((GROUP, Rule("w", "true", (SetWeights(preference=2.0),))))
    data = rule_set_to_data(rule_set)
    assert data[0]["actions"] == [{"kind": "group_same_patient"}]
    assert data[1]["actions"] == [{"kind": "set_weights", "preference": 2.0}]
    assert rule_set_from_data(data) == (rule_set, [])


def test_validation_knows_the_action_and_the_weights_the_balancer_offers() -> None:
    twice = Rule("twice", "true", (GroupSamePatient(), GroupSamePatient()))
    [error] = validate_rule_set(RuleSet((twice,)))
    assert (error.field, error.code) == ("actions", ErrorCode.INVALID)
    weights = RuleSet((Rule("w", "true", (SetWeights(preference=1.0, colour=2.0),)),))
    [unknown] = validate_rule_set(weights, known_weights={"preference"})
    assert (unknown.field, unknown.code) == ("actions[0].colour", ErrorCode.INVALID)


def test_both_evaluators_mark_exactly_the_matched_studies_and_explain_it() -> None:
    compiled = compile_rule_set(
        RuleSet((GROUP, Rule("stat", "true", (SetPriority(Priority.STAT),))))
    )
    head, film = facts(study_id=1), facts(study_id=2, modality="XR", procedure_code="XRCHEST")
    evaluation = apply(compiled, facts_table([head, film]))
    for study, marks in ((head, {MARK}), (film, set())):
        one = apply_one(compiled, study)
        assert one == evaluation.effect_for(study.study_id)
        assert one.marks == marks
    [grouped, _] = apply_one(compiled, head).applied_rules
    assert [(c.field, c.value) for c in grouped.changes] == [("reader_group", "same patient")]


def test_the_mark_sets_the_patients_reader_group_on_the_balancers_study() -> None:
    from application.planning.rule_effects import rule_snapshot
    from balancer.model import Params, Snapshot, Study
    from rules.effects import RuleSetEffect, Weights

    now = datetime(2025, 3, 3, 12, tzinfo=UTC)
    study = Study(
        id=1,
        subspecialty=Subspecialty.NEURO,
        site_id=1,
        priority=Priority.ROUTINE,
        patient_class=PatientClass.ED,
        wrvu=1.0,
        read_minutes=10.0,
        ready_at=now,
        due_at=now + timedelta(hours=1),
        patient_id=42,
    )
    compiled = compile_rule_set(RuleSet((GROUP,)))
    effect = apply_one(compiled, facts(study_id=1, minutes_until_due=60))
    snapshot, params = rule_snapshot(
        Snapshot(now, (study,), ()),
        Params(),
        {1: effect},
        RuleSetEffect(weights=Weights(preference=2.0)),
        {},
    )
    assert snapshot.studies[0].reader_group == "patient-42"
    assert params.weights.preference == 2.0
