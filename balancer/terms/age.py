"""The age limit: every minute a study waits beyond the limit costs, whatever its priority.

Priority alone lets a stream of urgent work postpone routine studies without bound; this term
keeps the worst-case wait from growing (the order rule also promotes aged studies).
"""

from __future__ import annotations

import numpy as np

from balancer.problem import FloatArray, IntArray, Problem


def cost(problem: Problem, idx: IntArray, finish: FloatArray) -> float:
    """Minutes beyond the age limit of studies `idx` finishing at `finish`, weighted."""
    over = np.maximum(finish - problem.aged[idx], 0.0)
    return problem.params.weights.age * float(over.sum())
