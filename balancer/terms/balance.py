"""Balance: capacity-weighted variance of utilisation (load / remaining shift) across readers.

sum_r c_r (L_r/c_r - u)^2 with u = sum L / sum c equals sum L^2/c - (sum L)^2 / sum c, which
keeps the change of one move O(1) from two running sums.
"""

from __future__ import annotations

from balancer.problem import FloatArray, Problem


def from_sums(problem: Problem, s1: float, s2: float, total_capacity: float) -> float:
    """The weighted term from sum L and sum L^2/c."""
    if total_capacity <= 0:
        return 0.0
    return problem.params.weights.balance * (s2 - s1 * s1 / total_capacity)


def cost(problem: Problem, load: FloatArray) -> float:
    """The weighted term for per-reader loads (minutes, opened work included)."""
    cap = problem.capacity
    return from_sums(problem, float(load.sum()), float((load * load / cap).sum()), float(cap.sum()))
