"""The objective, evaluated from scratch: the reference every solver's answer is scored by."""

from __future__ import annotations

import numpy as np

from balancer.problem import IntArray, Problem
from balancer.terms import NAMES, PLACEMENT, READER, SEQUENCE

TERMS = NAMES


def evaluate(problem: Problem, assign: IntArray) -> dict[str, float]:
    """Each weighted term and their `total` for an assignment (reader index per study, -1: none)."""
    terms = dict.fromkeys(TERMS, 0.0)
    load = problem.busy.copy()
    held = problem.base_wrvu.copy()
    starts, weights = problem.hinge_start, problem.hinge_weight
    for r in range(problem.m):
        idx = np.flatnonzero(assign == r).astype(np.int64)  # ascending = worklist order
        if idx.size == 0:
            continue
        times = problem.read_times(idx, r)
        finish = problem.busy[r] + np.cumsum(times)
        for j, term in enumerate(SEQUENCE):
            over = np.maximum(finish - starts[j, idx], 0.0)
            terms[term.name] += float(weights[j, idx] @ over)
        load[r] += float(times.sum())
        held[r] += float(problem.fair_wrvu[idx].sum())
    for reader_term in READER:
        terms[reader_term.name] = reader_term.cost(problem, load, held)
    for placement in PLACEMENT:
        terms[placement.name] = placement.cost(problem, assign)
    terms["total"] = sum(terms[t] for t in TERMS)
    return terms
