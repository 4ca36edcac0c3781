"""Urgency-weighted projected lateness: minutes past the due time, times the priority weight."""

from __future__ import annotations

import numpy as np

from balancer.problem import FloatArray, IntArray, Problem


def cost(problem: Problem, idx: IntArray, finish: FloatArray) -> float:
    """Weighted minutes late of studies `idx` finishing at `finish` (minutes from now)."""
    late = np.maximum(finish - problem.due[idx], 0.0)
    return float(problem.late_weight[idx] @ late)
