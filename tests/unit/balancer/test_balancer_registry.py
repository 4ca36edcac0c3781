"""The term registry: every term is found, weighed, priced incrementally and modelled alike;
and the two terms that arrived as one file each (reader preference, same-patient together)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from balancer import Params, Plan, Radiologist, Snapshot, Study, Weights, construct, plan, validate
from balancer.cpsat import solve
from balancer.objective import evaluate
from balancer.problem import compile_problem
from balancer.state import State
from balancer.terms import NAMES, RULE_SETTABLE, TERMS
from domain.enums import Priority, Subspecialty

NOW = datetime(2025, 3, 3, 12, 0, tzinfo=UTC)
MakeStudy = Callable[..., Study]
MakeReader = Callable[..., Radiologist]
NEURO, BODY = Subspecialty.NEURO, Subspecialty.BODY
# A neuroradiologist who also holds the body credential and would rather read neuro.
PREFERS_NEURO = {
    "subspecialties": frozenset({NEURO, BODY}),
    "preferred_subspecialties": frozenset({NEURO}),
}


def planned(snapshot: Snapshot, params: Params) -> Plan:
    result = plan(snapshot, params)
    assert validate(snapshot, result) == []
    return result


def test_every_term_has_a_weight_an_objective_entry_and_a_distinct_name() -> None:
    assert len(set(NAMES)) == len(TERMS)
    assert tuple(Weights()) == NAMES
    assert {t.name: t.default_weight for t in TERMS} == dict(Weights())
    # The weights a rule may set, in the order the GraphQL input lists them.
    assert RULE_SETTABLE == ("lateness", "balance", "stability", "fairness", "preference")
    with pytest.raises(TypeError):
        Weights(nonsense=1.0)


def _mixed(make_study: MakeStudy, make_reader: MakeReader) -> Snapshot:
    """Readers with and without preferences, studies in and out of groups, some late."""
    readers = (
        make_reader(1, **PREFERS_NEURO),
        make_reader(2),
        make_reader(3, subspecialties=frozenset({NEURO, BODY}), wrvu_per_hour=6.0),
        make_reader(4, preferred_subspecialties=frozenset({BODY})),
    )
    studies = []
    for i in range(1, 41):
        studies.append(
            make_study(
                i,
                subspecialty=NEURO if i % 3 == 0 else BODY,
                priority=(Priority.STAT, Priority.URGENT, Priority.ROUTINE)[i % 3],
                due_at=NOW + timedelta(minutes=5 * i),
                read_minutes=5.0 + i % 7,
                reader_group=f"patient-{i % 9}" if i % 2 else None,
                assigned_to=(i % 4) + 1 if i % 5 == 0 else None,
            )
        )
    return Snapshot(NOW, tuple(studies), readers)


def test_each_move_changes_the_objective_by_exactly_what_the_state_predicts(
    make_study: MakeStudy, make_reader: MakeReader
) -> None:
    params = Params(weights=Weights(preference=2.0, together=30.0))
    problem = compile_problem(_mixed(make_study, make_reader), params)
    assert {"preference", "together"} <= problem.term_data.keys()
    state = State(problem)
    construct.sweep(state, construct.keep_current(state))
    rng = np.random.default_rng(3)
    checked = 0
    for _ in range(300):
        k = int(rng.integers(problem.n))
        b = int(rng.choice(problem.eligible[k]))
        if state.assign[k] < 0 or b == state.assign[k] or not state.allowed(k, b):
            continue
        before = evaluate(problem, state.assign)
        predicted = state.move_delta(k, b)
        state.move(k, b)
        after = evaluate(problem, state.assign)
        assert after["total"] - before["total"] == pytest.approx(predicted, rel=1e-6, abs=1e-6)
        checked += 1
    assert checked > 100
    terms = evaluate(problem, state.assign)
    assert terms["preference"] > 0 and terms["together"] > 0


def test_cp_sat_prices_the_new_terms_as_the_objective_does(
    make_study: MakeStudy, make_reader: MakeReader
) -> None:
    params = Params(weights=Weights(preference=2.0, together=30.0))
    problem = compile_problem(_mixed(make_study, make_reader), params)
    state = State(problem)
    construct.sweep(state, construct.keep_current(state))
    out = solve(problem, state.assign, 5.0)
    assert out.assign is not None
    assert evaluate(problem, out.assign)["total"] <= evaluate(problem, state.assign)["total"] * (
        1 + 1e-6
    )


# -- reader preference ------------------------------------------------------------------------
def test_a_preference_weight_sends_general_work_to_the_reader_without_a_preference(
    make_study: MakeStudy, make_reader: MakeReader
) -> None:
    neuro = make_reader(
        1, subspecialties=frozenset({NEURO, BODY}), preferred_subspecialties={NEURO}
    )
    body = make_reader(2)
    backlog = tuple(make_study(10 + i, assigned_to=2) for i in range(2))
    study = make_study(1)
    snap = Snapshot(NOW, (study, *backlog), (neuro, body))
    assert planned(snap, Params()).assignments[1].radiologist_id == 1  # weight 0: off
    assert planned(snap, Params(weights=Weights(preference=5.0))).assignments[1].radiologist_id == 2


def test_a_preference_costs_nothing_when_the_work_is_preferred_or_nobody_prefers(
    make_study: MakeStudy, make_reader: MakeReader
) -> None:
    neuro = make_reader(
        1, subspecialties=frozenset({NEURO, BODY}), preferred_subspecialties={NEURO}
    )
    snap = Snapshot(NOW, (make_study(1, subspecialty=NEURO),), (neuro, make_reader(2)))
    params = Params(weights=Weights(preference=5.0))
    problem = compile_problem(snap, params)
    assert evaluate(problem, np.array([0]))["preference"] == 0.0
    plain = Snapshot(NOW, (make_study(1),), (make_reader(1), make_reader(2)))
    assert "preference" not in compile_problem(plain, params).term_data


# -- together (same-patient grouping) ---------------------------------------------------------
def test_a_patients_grouped_studies_go_to_one_reader(
    make_study: MakeStudy, make_reader: MakeReader
) -> None:
    studies = tuple(make_study(i, read_minutes=10.0) for i in (1, 2, 3))
    readers = tuple(make_reader(r) for r in (1, 2, 3))
    apart = planned(Snapshot(NOW, studies, readers), Params())
    assert len({a.radiologist_id for a in apart.assignments.values()}) == 3  # idle readers share
    grouped = tuple(Study(**{**_fields(s), "reader_group": "patient-7"}) for s in studies)
    together = planned(Snapshot(NOW, grouped, readers), Params())
    assert len({a.radiologist_id for a in together.assignments.values()}) == 1


def test_a_group_stays_with_the_reader_who_opened_one_of_its_studies(
    make_study: MakeStudy, make_reader: MakeReader
) -> None:
    opened = make_study(1, opened_by=3, opened_at=NOW, reader_group="p")
    rest = tuple(make_study(i, reader_group="p") for i in (2, 3))
    snap = Snapshot(NOW, (opened, *rest), tuple(make_reader(r) for r in (1, 2, 3)))
    result = planned(snap, Params())
    assert {result.assignments[i].radiologist_id for i in (2, 3)} == {3}


def test_a_group_nobody_may_read_whole_is_planned_study_by_study(
    make_study: MakeStudy, make_reader: MakeReader
) -> None:
    head = make_study(1, subspecialty=NEURO, reader_group="p")
    belly = make_study(2, reader_group="p")
    neuro = make_reader(1, subspecialties=frozenset({NEURO}))
    snap = Snapshot(NOW, (head, belly), (neuro, make_reader(2)))
    result = planned(snap, Params())
    assert (result.assignments[1].radiologist_id, result.assignments[2].radiologist_id) == (1, 2)
    assert result.objective["together"] == 0.0


def _fields(study: Study) -> dict[str, object]:
    return {name: getattr(study, name) for name in Study.__slots__}
