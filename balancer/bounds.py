"""Proven lower bounds on the objective: how far a plan can be from the best one at most.

Both bound any plan that places the same studies as `assign`. Every term of the objective is
non-negative, so a bound on the sequence terms alone (lateness, age, urgency: for each study a
convex, non-decreasing function of its finish, `Problem.hinge_start` / `hinge_weight`) bounds the
whole objective. A reader reads their worklist back to back from the end of their opened read
(`Problem.busy`), so every finish is a sum of read times.

* `busy_time_bound`, the mean-busy-time relaxation. A study read by reader r from S to C is
  worked on evenly, so the middle of its reading, M, is C less half its read time on r, and C is
  at least M plus half the shortest read time any reader who may read it needs. Linearise each
  study's cost at a point c (a plan's own finish; any c gives a bound, a near-optimal plan's the
  tightest): cost(C) >= cost(c) + g (C - c), g the cost's slope at c. What is left to minimise is
  the sum of g M, over every way of spreading the department's reading in time (the readers
  pooled, each reading at its speed from the end of its opened read; a study may be split among
  them). That is smallest when the reading goes in Smith's order, the largest slope per minute of
  work first: one sort and an integral.
* `completion_rank_bound`, the completion-rank relaxation. A study cannot finish before its
  own read on the reader who would finish it first, and the department's j-th finish cannot
  come before the readers together could have read the j shortest reads; matching studies to
  finish ranks at least cost is a min-cost flow (OR-Tools).

The mean-busy-time bound is the tighter on departments where most work is past a deadline (its
cost there is linear in the finish, where the linearisation is exact); both ignore eligibility
beyond each study's fastest reader, caps and the worklist order rule (docs/balancer.md).
"""

from __future__ import annotations

import numpy as np
from ortools.graph.python import min_cost_flow

from balancer.problem import FloatArray, IntArray, Problem

# Finish ranks per bucket in `completion_rank_bound`; cost units per minute-equivalent there.
BUCKETS = 200
COST_SCALE = 100


def finishes(problem: Problem, assign: IntArray) -> FloatArray:
    """Each placed study's projected finish (minutes from now) in the plan `assign` (reader per
    study in worklist order, -1: none); NaN for a study left without a reader."""
    out = np.full(problem.n, np.nan)
    for r in range(problem.m):
        idx = np.flatnonzero(assign == r)
        if idx.size:
            out[idx] = problem.busy[r] + np.cumsum(problem.read_times(idx, r))
    return out


def busy_time_bound(problem: Problem, assign: IntArray, at: FloatArray) -> float:
    """The mean-busy-time lower bound (see the module) for plans placing what `assign` places,
    each study's cost linearised at `at[k]` (e.g. `finishes` of a good plan)."""
    p = problem
    ks = np.flatnonzero(assign >= 0)
    if ks.size == 0 or (p.hinge_weight[:, ks] < 0).any():
        return 0.0  # a negative weight is not a convex cost: no bound from here
    rate = 1.0 / p.inv_speed
    work = _work(p, ks)
    half = np.array([float(p.times_on(k, p.eligible[k]).min()) / 2.0 for k in ks.tolist()])
    c = np.nan_to_num(at[ks], nan=0.0)
    starts, weights = p.hinge_start[:, ks], p.hinge_weight[:, ks]
    cost_at = (weights * np.maximum(c[None, :] - starts, 0.0)).sum(axis=0)
    slope = (weights * (c[None, :] > starts)).sum(axis=0)
    middle = _smith_middles(p.busy, rate, work, slope)
    return float((cost_at + slope * (middle + half - c)).sum())


def _work(p: Problem, ks: IntArray) -> FloatArray:
    """The studies' reading work in reference minutes, as no reader gets through more of it a
    minute than their speed: a reader whose learned pace on a group is under 1 reads it faster
    than their speed says, so a study's work shrinks by the fastest such pace."""
    work: FloatArray = p.nominal[ks].astype(np.float64)
    if p.paced:
        work = work * np.array(
            [min(1.0, float(p.pace[p.eligible[k], p.kind[k]].min())) for k in ks.tolist()]
        )
    return work


def _smith_middles(
    busy: FloatArray, rate: FloatArray, work: FloatArray, slope: FloatArray
) -> FloatArray:
    """Each study's mean reading time when the pooled readers (reader r reading `rate[r]`
    reference minutes a minute from `busy[r]` on) read the studies one after another in
    Smith's order, the largest slope per minute of work first."""
    order = np.argsort(busy, kind="stable")
    at, pooled = busy[order], np.cumsum(rate[order])
    # Work done by the time each reader joins, and the integral of the inverse (the time each
    # unit of work is done) up to there: piecewise linear, then quadratic within a piece.
    done = np.concatenate([[0.0], np.cumsum(pooled[:-1] * np.diff(at))])
    piece = np.diff(done)
    area = np.concatenate([[0.0], np.cumsum(at[:-1] * piece + piece**2 / (2.0 * pooled[:-1]))])

    def integral(w: FloatArray) -> FloatArray:
        j = np.searchsorted(done, w, side="right") - 1
        d = w - done[j]
        out: FloatArray = area[j] + at[j] * d + d * d / (2.0 * pooled[j])
        return out

    positive = np.maximum(work, 1e-12)
    first = np.argsort(-(slope / positive), kind="stable")
    edges = np.concatenate([[0.0], np.cumsum(work[first])])
    middle = np.empty(work.size)
    middle[first] = (integral(edges[1:]) - integral(edges[:-1])) / positive[first]
    return middle


def completion_rank_bound(problem: Problem, assign: IntArray) -> float:
    """The completion-rank lower bound (see the module) for plans placing what `assign`
    places."""
    p = problem
    ks = np.flatnonzero(assign >= 0)
    n = int(ks.size)
    if n == 0 or (p.hinge_weight[:, ks] < 0).any():
        return 0.0
    # (a) each study's own earliest finish.
    own = np.array(
        [float((p.busy[p.eligible[k]] + p.times_on(k, p.eligible[k])).min()) for k in ks.tolist()]
    )
    # (b) the j-th earliest finish: the department's reading W(T) = sum of rate x (T - busy)+
    # reaches the j shortest reads' total no sooner.
    need = np.cumsum(np.sort(_work(p, ks)))
    order = np.argsort(p.busy)
    starts, rates = p.busy[order], (1.0 / p.inv_speed)[order]
    pooled = np.cumsum(rates)
    read_by = np.concatenate([[0.0], np.cumsum(pooled[:-1] * np.diff(starts))])
    at = np.searchsorted(read_by, need, side="right") - 1
    rank = starts[at] + (need - read_by[at]) / pooled[at]
    size = -(-n // BUCKETS)
    earliest = rank[::size]
    buckets = earliest.size
    room = np.array([min(size, n - b * size) for b in range(buckets)], dtype=np.int64)
    tails, costs = [], []
    for i, k in enumerate(ks.tolist()):
        finish = np.maximum(earliest, own[i])
        over = np.maximum(finish[None, :] - p.hinge_start[:, k][:, None], 0.0)
        cost = (p.hinge_weight[:, k][:, None] * over).sum(axis=0)
        tails.append(np.full(buckets, i, dtype=np.int64))
        costs.append(np.floor(cost * COST_SCALE).astype(np.int64))  # floor: stays a bound
    flow = min_cost_flow.SimpleMinCostFlow()
    tail = np.concatenate(tails)
    flow.add_arcs_with_capacity_and_unit_cost(
        tail,
        n + np.tile(np.arange(buckets, dtype=np.int64), n),
        np.ones_like(tail),
        np.concatenate(costs),
    )
    flow.set_nodes_supplies(
        np.arange(n + buckets, dtype=np.int64), np.concatenate([np.ones(n, dtype=np.int64), -room])
    )
    if flow.solve() != flow.OPTIMAL:
        return 0.0
    return float(flow.optimal_cost()) / COST_SCALE
