"""Idle: minutes in the next little while that a reader on shift has nothing to read.

Balance against the whole remaining shift is blind to the next half hour: a reader with an
empty worklist and one holding 100 minutes of routine work look alike against 600 minutes
of shift left. This term prices each reader's idle minutes within a short horizon, so an idle
reader takes work from a peer's queue ("no one is buried while a peer idles") as soon as the
gain pays the stability price.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from balancer.terms.base import OBJ, TIME, FloatArray, Hinter, IntArray, ReaderTerm

if TYPE_CHECKING:
    from ortools.sat.python import cp_model

    from balancer.problem import Problem
    from balancer.state import State


def idle(problem: Problem, load: float | FloatArray, readers: int | IntArray) -> float | FloatArray:
    """Idle capacity within the horizon of `readers` holding `load` minutes (open reads included),
    in reference minutes: an idle minute of a fast reader wastes more reading than a slow one's.

    Counted in the reader's own minutes, moving work from a slow reader to an idle fast one
    *raised* the term (the fast reader fills fewer of its minutes with the same study), so the
    planner kept work on slow readers while fast ones idled (seen in the simulator).
    """
    h = problem.params.idle_horizon_minutes
    return np.maximum(h - load, 0.0) / problem.inv_speed[readers]


class Idle(ReaderTerm):
    name = "idle"
    default_weight = 3.0
    description = "Reference minutes within the idle horizon that a reader on shift has no work."
    position = 50

    def cost(self, problem: Problem, load: FloatArray, held: FloatArray) -> float:
        """The weighted term for per-reader loads."""
        readers = np.arange(problem.m, dtype=np.int64)
        return problem.params.weights.idle * float(np.sum(idle(problem, load, readers)))

    def delta(self, state: State, k: int, a: int, b: int) -> float:
        """The idle change of the two readers."""
        p = state.p
        d = 0.0
        for r, sign in ((a, -1.0), (b, 1.0)):
            if r >= 0:
                old = state.load[r]
                dl = sign * p.read_time(k, r)
                d += float(idle(p, old + dl, r)) - float(idle(p, old, r))
        return p.params.weights.idle * d

    def sweep(
        self, state: State, k: int, cand: IntArray, t: FloatArray, load: FloatArray
    ) -> FloatArray | float:
        """The idle change of each candidate (none once every candidate's load is past the
        horizon, as it is for most of a cold start's sweep: checked first, it is one call)."""
        p = state.p
        if float(load.min()) >= p.params.idle_horizon_minutes:
            return 0.0
        return p.params.weights.idle * (idle(p, load + t, cand) - idle(p, load, cand))

    def cpsat(
        self,
        model: cp_model.CpModel,
        problem: Problem,
        v: Any,
        by_reader: list[list[int]],
        placed: IntArray,
        hinted: Hinter,
    ) -> cp_model.LinearExprT:
        """Idle minutes within the horizon per reader, max(0, H - L)."""
        p = problem
        h = round(p.params.idle_horizon_minutes * TIME)
        if p.params.weights.idle == 0 or h <= 0:
            return 0
        parts: list[cp_model.LinearExprT] = []
        for r, load in enumerate(v.load):
            # Reference minutes: a fast reader's idle minute wastes more.
            coef = round(p.params.weights.idle * OBJ / TIME / float(p.inv_speed[r]))
            gap = hinted(model.new_int_var(0, h, f"idle{r}"), max(0, h - v.value[f"load{r}"]))
            model.add(gap >= h - load)
            parts.append(coef * gap)
        return sum(parts)


TERM = Idle()
