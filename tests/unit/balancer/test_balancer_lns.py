"""The neighbourhood search (balancer.lns): exact on its scope, never worse, pins and eligibility
kept, and it stops when told."""

from __future__ import annotations

import dataclasses
import random
import time

import numpy as np
import pytest

from balancer import Params, Weights, validate
from balancer.construct import keep_current, sweep
from balancer.lns import Stop, improve_plan, neighbourhood, search
from balancer.model import Snapshot
from balancer.objective import evaluate
from balancer.planner import solve
from balancer.problem import compile_problem
from balancer.simulation.department import bench_snapshot
from balancer.state import State
from domain.enums import Priority, Subspecialty
from tests.unit.balancer.conftest import NOW, MakeReader, MakeStudy


def piled(make_study: MakeStudy, make_reader: MakeReader, now: object) -> Snapshot:
    """Twelve urgent studies all on reader 1 while reader 2 (who may read them) has nothing,
    one of them pinned to reader 1, and a NEURO study only reader 3 may read."""
    studies = [
        make_study(
            i,
            priority=Priority.URGENT,
            assigned_to=1,
            pinned_to=1 if i == 0 else None,
            read_minutes=15.0,
        )
        for i in range(12)
    ]
    studies.append(make_study(99, subspecialty=Subspecialty.NEURO, assigned_to=3))
    readers = (
        make_reader(1),
        make_reader(2),
        make_reader(3, subspecialties=frozenset({Subspecialty.NEURO})),
    )
    assert isinstance(now, type(studies[0].ready_at))
    return Snapshot(now=now, studies=tuple(studies), radiologists=readers)


def test_the_search_moves_work_off_a_piled_reader_and_keeps_pins_and_eligibility(
    make_study: MakeStudy, make_reader: MakeReader, now: object
) -> None:
    snap = piled(make_study, make_reader, now)
    searched = improve_plan(snap, Params(), 5.0, Stop(), max_rounds=6)
    result = searched.plan
    assert validate(snap, result) == []
    assert searched.outcome.improvements >= 1
    assert searched.total < searched.fast_total
    assert result.objective["total"] == pytest.approx(searched.total)
    assert result.formulation == "current+lns"  # nothing to place: from the current plan
    assert result.assignments[0].radiologist_id == 1  # the pin holds
    assert result.assignments[99].radiologist_id == 3  # only reader 3 may read it
    assert any(a.radiologist_id == 2 for a in result.assignments.values())


def test_a_round_is_priced_exactly_and_the_search_never_worsens_the_objective() -> None:
    snap = bench_snapshot(21, 300, 12)
    params = Params()
    problem = compile_problem(snap, params)
    state = State(problem)
    sweep(state, keep_current(state))  # a plain start: room for the search to win
    before = evaluate(problem, state.assign)["total"]
    outcome = search(
        state,
        time.perf_counter() + 60,
        Stop(),
        max_rounds=4,
        round_limit_s=0.05,
        deterministic=True,
    )
    after = evaluate(problem, state.assign)["total"]
    assert outcome.rounds == 4
    assert after == pytest.approx(before - outcome.won)
    assert after <= before
    # The state's running sums agree with the objective scored from scratch.
    assert state.load == pytest.approx(
        problem.busy
        + np.bincount(
            state.assign[state.assign >= 0],
            weights=(problem.nominal * problem.inv_speed[np.maximum(state.assign, 0)])[
                state.assign >= 0
            ],
            minlength=problem.m,
        )
    )


def test_deterministic_rounds_give_the_same_plan_twice() -> None:
    snap = bench_snapshot(22, 200, 10)
    first, second = (
        improve_plan(
            snap, Params(), 0.0, Stop(), max_rounds=3, round_limit_s=0.05, deterministic=True
        )
        for _ in range(2)
    )
    assert {k: a.radiologist_id for k, a in first.plan.assignments.items()} == {
        k: a.radiologist_id for k, a in second.plan.assignments.items()
    }


def test_a_stop_set_before_the_search_ends_it_with_nothing_changed() -> None:
    snap = bench_snapshot(23, 200, 10)
    stop = Stop()
    stop.set()
    searched = improve_plan(snap, Params(), 60.0, stop)
    assert searched.outcome.stopped and searched.outcome.rounds == 0
    assert searched.total == searched.fast_total


def test_a_neighbourhood_is_a_few_readers_who_share_eligibility() -> None:
    snap = bench_snapshot(24, 400, 20)
    problem = compile_problem(snap, dataclasses.replace(Params()))
    state = State(problem)
    sweep(state, keep_current(state))
    for kind in ("pressed", "balance", "random"):
        readers = neighbourhood(state, kind, random.Random(1))
        assert 2 <= len(readers) <= 4 and len(set(readers)) == len(readers)
        seed, others = readers[0], readers[1:]
        own = np.flatnonzero(state.assign == seed)
        for r in others:  # each may read some of the seed's work, or holds some it may read
            theirs = np.flatnonzero(state.assign == r)
            assert problem.may_read[own, r].any() or problem.may_read[theirs, seed].any()


def test_a_round_that_leaves_a_fed_reader_with_nothing_to_read_again_is_refused(
    make_study: MakeStudy, make_reader: MakeReader
) -> None:
    # Reader 1 has a read open and six short reads queued; the re-plan gave idle reader 2 one
    # of them (`improve.feed_idle`) although its stability price is far above what it gains.
    now = NOW
    opened = make_study(1, read_minutes=20.0, opened_by=1, opened_at=now)
    queued = [make_study(10 + i, read_minutes=2.0, wrvu=0.3, assigned_to=1) for i in range(6)]
    snap = Snapshot(now, (opened, *queued), (make_reader(1), make_reader(2)))
    params = Params(weights=Weights(stability=100.0), feed_idle=True)
    for feeding in (True, False):
        problem, state, *_ = solve(snap, params)
        reader_2 = problem.reader_index[2]
        assert len(state.lists[reader_2]) == 1
        problem.params = dataclasses.replace(params, feed_idle=feeding)
        outcome = search(state, 0.0, Stop(), max_rounds=6, deterministic=True)
        # Sending it home wins its stability price back; held only while the rule is on.
        assert len(state.lists[reader_2]) == (1 if feeding else 0)
        assert outcome.improvements == (0 if feeding else 1)
