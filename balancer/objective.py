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
    placed = np.flatnonzero(assign >= 0)
    by_reader = placed[np.argsort(assign[placed], kind="stable")]  # each in worklist order
    ends = np.cumsum(np.bincount(assign[placed], minlength=problem.m)).tolist()
    for r in range(problem.m):
        idx = by_reader[(ends[r - 1] if r else 0) : ends[r]]
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
    total = sum(terms[t] for t in TERMS)
    if np.isfinite(problem.group_price).any():
        terms["over_cap"] = over_cap(problem, assign)
        total += terms["over_cap"]
    terms["total"] = total
    return terms


def over_count(problem: Problem, assign: IntArray) -> IntArray:
    """[reader, group] studies each reader holds over the group's cap (unpinned ones count;
    pins and opened studies already took their room)."""
    out = np.zeros_like(problem.slots)
    for g in range(problem.slots.shape[1]):
        members = (problem.group == g) & (problem.pinned < 0) & (assign >= 0)
        held = np.bincount(assign[members], minlength=problem.m)
        out[:, g] = np.maximum(held - np.maximum(problem.slots[:, g], 0), 0)
    return out


def over_cap(problem: Problem, assign: IntArray) -> float:
    """The price of the studies held over a cap that bends for STAT."""
    counts = over_count(problem, assign)
    bends = np.isfinite(problem.group_price)
    return float((counts[:, bends] * problem.group_price[bends]).sum())
