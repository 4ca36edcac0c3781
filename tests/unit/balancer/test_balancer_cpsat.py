"""The CP-SAT model prices plans like the objective does, and `mode="improve"` never worsens."""

from __future__ import annotations

import dataclasses

import pytest

from balancer import Params, plan, validate
from balancer.assignments import as_array
from balancer.cpsat import solve
from balancer.objective import evaluate
from balancer.problem import compile_problem
from balancer.simulation.department import bench_snapshot


def test_the_model_objective_matches_the_exact_objective_of_its_answer() -> None:
    snap = bench_snapshot(11, 60, 6)
    params = Params()
    problem = compile_problem(snap, params)
    fast = plan(snap, params)
    assign = as_array(problem, fast)
    out = solve(problem, assign, 2.0)
    assert out.assign is not None
    exact = evaluate(problem, out.assign)["total"]
    # Times are rounded to tenths of a minute and balance to integer divisions in the model.
    assert out.objective == pytest.approx(exact, rel=0.01)
    assert exact <= evaluate(problem, assign)["total"] * (1 + 1e-9)
    assert out.bound <= out.objective


def test_improve_mode_returns_a_valid_plan_no_worse_than_the_fast_one() -> None:
    snap = bench_snapshot(12, 60, 6)
    fast = plan(snap, Params())
    better = plan(snap, dataclasses.replace(Params(), mode="improve", improve_time_limit_s=2.0))
    assert validate(snap, better) == []
    assert better.objective["total"] <= fast.objective["total"] + 1e-6


def test_plan_is_deterministic() -> None:
    snap = bench_snapshot(13, 200, 10)
    params = Params(cold_time_limit_s=30.0)  # converge, so the clock cannot change the answer
    first, second = plan(snap, params), plan(snap, params)
    assert {k: (a.radiologist_id, a.position) for k, a in first.assignments.items()} == {
        k: (a.radiologist_id, a.position) for k, a in second.assignments.items()
    }
