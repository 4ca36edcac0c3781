"""The cold start: lean sweeps as the sweep without the reader terms, a budget that grows with
the department, and re-sweeps that stop once they stop improving."""

from __future__ import annotations

import time

import numpy as np
import pytest

from balancer import Params, construct
from balancer.compiler import Compiler
from balancer.objective import evaluate
from balancer.problem import FloatArray, Problem
from balancer.simulation.department import bench_snapshot
from balancer.state import State


def _problem(studies: int = 600, readers: int = 24) -> Problem:
    return Compiler().compile(bench_snapshot(3, studies, readers), Params())


def _delay(problem: Problem) -> FloatArray:
    """A delay estimate read off a full sweep, as a cold start's re-sweeps get one."""
    state = State(problem)
    construct.sweep(state, construct.keep_current(state))
    return construct.delay_estimate(state)


def test_a_lean_sweep_places_every_study_where_the_sweep_without_reader_terms_does(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    problem = _problem()
    delay = _delay(problem)
    lean = State(problem)
    fixed = construct.fixed_prices(lean)
    lean_left = construct.lean_sweep(lean, construct.keep_current(lean), fixed, delay)
    monkeypatch.setattr(construct, "READER", ())
    plain = State(problem)
    plain_left = construct.sweep(plain, construct.keep_current(plain), delay)
    assert lean_left == plain_left
    assert np.array_equal(lean.assign, plain.assign)
    # The worklists, loads and cap counts are the state's own, as if placed one by one.
    assert lean.lists == plain.lists
    assert np.allclose(lean.load, plain.load)
    assert np.array_equal(lean.used, plain.used)
    assert any(problem.group >= 0)  # the STAT cap was exercised


def test_the_cold_budget_grows_in_proportion_above_its_size() -> None:
    params = Params()
    assert params.cold_budget_s(2_000) == params.cold_time_limit_s
    assert params.cold_budget_s(params.cold_time_limit_studies) == params.cold_time_limit_s
    assert params.cold_budget_s(2 * params.cold_time_limit_studies) == pytest.approx(
        2 * params.cold_time_limit_s
    )
    assert Params(cold_time_limit_s=0.4).cold_budget_s(20_000) == pytest.approx(0.8)


def test_the_cold_start_stops_re_sweeping_once_the_sweeps_stop_improving_and_keeps_the_best(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    problem = _problem()
    totals: list[float] = []
    lean = construct.lean_sweep

    def counted(
        state: State,
        rest: list[int],
        fixed: tuple[list[FloatArray], list[FloatArray]],
        delay: FloatArray | None = None,
    ) -> list[int]:
        left = lean(state, rest, fixed, delay)
        totals.append(evaluate(problem, state.assign)["total"])
        return left

    monkeypatch.setattr(construct, "lean_sweep", counted)
    state = State(problem)
    best, _ = construct.cold_start(
        state, construct.keep_current(state), 200, time.perf_counter() + 600
    )
    assert len(totals) < 201  # converged long before its 200 re-sweeps
    assert evaluate(problem, best.assign)["total"] <= min(totals)
    assert totals[1] < totals[0]  # the first delay-priced sweep gains on the plain one
