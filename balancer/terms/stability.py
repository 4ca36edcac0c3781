"""Stability: a fixed price for every study taken from a reader it still suits."""

from __future__ import annotations

import numpy as np

from balancer.problem import IntArray, Problem


def moved(problem: Problem, assign: IntArray) -> int:
    """Studies whose still-valid current reader differs from the plan's."""
    keep = problem.prior >= 0
    return int(np.count_nonzero(assign[keep] != problem.prior[keep]))


def cost(problem: Problem, assign: IntArray) -> float:
    """The weighted term."""
    return problem.params.weights.stability * moved(problem, assign)
