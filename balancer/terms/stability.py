"""Stability: a price for every study taken from a reader it still suits.

The price is `weights.stability` times the priority's `Params.stability_share`: an unopened
STAT is cheap to move to a reader who will start it sooner, a routine study is not.
"""

from __future__ import annotations

import numpy as np

from balancer.problem import IntArray, Problem


def moved(problem: Problem, assign: IntArray) -> int:
    """Studies whose still-valid current reader differs from the plan's."""
    keep = problem.prior >= 0
    return int(np.count_nonzero(assign[keep] != problem.prior[keep]))


def cost(problem: Problem, assign: IntArray) -> float:
    """The weighted term."""
    keep = (problem.prior >= 0) & (assign != problem.prior)
    return float(problem.move_price[keep].sum())
