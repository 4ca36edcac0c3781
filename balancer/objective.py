"""The objective, evaluated from scratch: the reference every solver's answer is scored by."""

from __future__ import annotations

import numpy as np

from balancer.problem import IntArray, Problem
from balancer.terms import age, balance, fairness, idle, lateness, stability, urgency

TERMS = ("lateness", "urgency", "age", "balance", "idle", "fairness", "stability")


def evaluate(problem: Problem, assign: IntArray) -> dict[str, float]:
    """Each weighted term and their `total` for an assignment (reader index per study, -1: none)."""
    terms = dict.fromkeys(TERMS, 0.0)
    load = problem.busy.copy()
    held = problem.base_wrvu.copy()
    for r in range(problem.m):
        idx = np.flatnonzero(assign == r).astype(np.int64)  # ascending = worklist order
        if idx.size == 0:
            continue
        times = problem.nominal[idx] * problem.inv_speed[r]
        finish = problem.busy[r] + np.cumsum(times)
        terms["lateness"] += lateness.cost(problem, idx, finish)
        terms["age"] += age.cost(problem, idx, finish)
        terms["urgency"] += urgency.cost(problem, idx, finish)
        load[r] += float(times.sum())
        held[r] += float(problem.fair_wrvu[idx].sum())
    if problem.m:
        terms["balance"] = balance.cost(problem, load)
        terms["idle"] = idle.cost(problem, load)
    readers = np.arange(problem.m, dtype=np.int64)
    terms["fairness"] = fairness.cost(
        problem, np.asarray(fairness.excess(problem, held, load, readers))
    )
    terms["stability"] = stability.cost(problem, assign)
    terms["total"] = sum(terms[t] for t in TERMS)
    return terms
