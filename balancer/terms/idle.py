"""Idle: minutes in the next little while that a reader on shift has nothing to read.

Balance against the whole remaining shift is blind to the next half hour: a reader with an
empty worklist and one holding 100 minutes of routine work look alike against 600 minutes
of shift left. This term prices each reader's idle minutes within a short horizon, so an idle
reader takes work from a peer's queue ("no one is buried while a peer idles") as soon as the
gain pays the stability price.
"""

from __future__ import annotations

import numpy as np

from balancer.problem import FloatArray, IntArray, Problem


def idle(problem: Problem, load: float | FloatArray, readers: int | IntArray) -> float | FloatArray:
    """Idle capacity within the horizon of `readers` holding `load` minutes (open reads included),
    in reference minutes: an idle minute of a fast reader wastes more reading than a slow one's.

    Counted in the reader's own minutes, moving work from a slow reader to an idle fast one
    *raised* the term (the fast reader fills fewer of its minutes with the same study), so the
    planner kept work on slow readers while fast ones idled (seen in the simulator).
    """
    h = problem.params.idle_horizon_minutes
    return np.maximum(h - load, 0.0) / problem.inv_speed[readers]


def cost(problem: Problem, load: FloatArray) -> float:
    """The weighted term for per-reader loads."""
    readers = np.arange(problem.m, dtype=np.int64)
    return problem.params.weights.idle * float(np.sum(idle(problem, load, readers)))
