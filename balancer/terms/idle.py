"""Idle: minutes in the next little while that a reader on shift has nothing to read.

Balance against the whole remaining shift is blind to the next half hour: a reader with an
empty worklist and one holding 100 minutes of routine work look alike against 600 minutes
of shift left. This term prices each reader's idle minutes within a short horizon, so an idle
reader takes work from a peer's queue ("no one is buried while a peer idles") as soon as the
gain pays the stability price.
"""

from __future__ import annotations

import numpy as np

from balancer.problem import FloatArray, Problem


def idle(problem: Problem, load: float | FloatArray) -> float | FloatArray:
    """Idle minutes within the horizon for a reader holding `load` minutes (open reads included)."""
    h = problem.params.idle_horizon_minutes
    return np.maximum(h - load, 0.0)


def cost(problem: Problem, load: FloatArray) -> float:
    """The weighted term for per-reader loads."""
    return problem.params.weights.idle * float(np.sum(idle(problem, load)))
