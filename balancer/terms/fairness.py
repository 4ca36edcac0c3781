"""Fairness: each reader's wRVU should keep pace with the capacity they spend, over the shift.

A reader's excess is the wRVU they will have read by the time their worklist is done (or the
idle horizon has passed, whichever is later) minus their share at the department's pace: the
department's wRVU read per wRVU of capacity this shift, times the reader's capacity over the
same time (`Problem.charge` per minute). It starts from the shift's credit (`shift_credit`),
so a reader who is ahead, by denser work or more of it, is steered to lower-density work (or to
less of it while others have room) and one who is behind to more. Within the worklists it is
also the old mix rule: holding only quick high-wRVU studies drifts a reader off the pace, and
so does being handed only slow low-wRVU ones. The term is the absolute excess summed over
readers, in minutes per wRVU by its weight.

Idle minutes within the horizon are charged too: capacity passes whether or not there is work,
so with room on both, work goes to the reader who is behind rather than the one ahead.

Two refinements: a reader's weight grows over their shift, from `Params.fairness_floor` of
`weights.fairness` at its start to all of it at its end (`problem.fairness_weight`), and a study
whose priority is not in `Params.fairness_priorities` (by default STAT and URGENT ones) counts
at the department's pace (charge x its read minutes on any reader), so holding it moves nobody's
excess while they have work past the idle horizon: who reads urgent work is decided by when
they would finish it. Both are measured in docs/balancer.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from balancer.terms.base import FINE, OBJ, TIME, WRVU, FloatArray, Hinter, IntArray, ReaderTerm

if TYPE_CHECKING:
    from ortools.sat.python import cp_model

    from balancer.problem import Problem
    from balancer.state import State


def excess(
    problem: Problem,
    wrvu: float | FloatArray,
    load: float | FloatArray,
    readers: int | IntArray,
) -> float | FloatArray:
    """Excess of `readers` holding `wrvu` (credit and opened work included) and `load` minutes."""
    h = problem.params.idle_horizon_minutes
    return wrvu - problem.charge[readers] * np.maximum(load, h)


def cost(problem: Problem, excesses: FloatArray) -> float:
    """The weighted term from per-reader excess (each reader's weight is minutes per wRVU of
    excess, `Problem.fair_weight`)."""
    return float((problem.fair_weight * np.abs(excesses)).sum())


class Fairness(ReaderTerm):
    name = "fairness"
    default_weight = 25.0
    description = "Per reader, wRVU held beyond their share at the department's pace (absolute)."
    position = 70
    rule_settable = True

    def cost(self, problem: Problem, load: FloatArray, held: FloatArray) -> float:
        """The term from per-reader load and held wRVU."""
        readers = np.arange(problem.m, dtype=np.int64)
        return cost(problem, np.asarray(excess(problem, held, load, readers)))

    def delta(self, state: State, k: int, a: int, b: int) -> float:
        """The excess change of the two readers."""
        p = state.p
        w = float(p.fair_wrvu[k])
        d = 0.0
        for r, sign in ((a, -1.0), (b, 1.0)):
            if r < 0:
                continue
            held, load = float(state.held[r]), float(state.load[r])
            t = sign * p.read_time(k, r)
            d += float(p.fair_weight[r]) * (
                abs(float(excess(p, held + sign * w, load + t, r)))
                - abs(float(excess(p, held, load, r)))
            )
        return d

    def sweep(
        self, state: State, k: int, cand: IntArray, t: FloatArray, load: FloatArray
    ) -> FloatArray | float:
        """The excess change of each candidate."""
        p = state.p
        held = state.held[cand]
        out: FloatArray = p.fair_weight[cand] * (
            np.abs(excess(p, held + p.fair_wrvu[k], load + t, cand))
            - np.abs(excess(p, held, load, cand))
        )
        return out

    def cpsat(
        self,
        model: cp_model.CpModel,
        problem: Problem,
        v: Any,
        by_reader: list[list[int]],
        placed: IntArray,
        hinted: Hinter,
    ) -> cp_model.LinearExprT:
        """Absolute wRVU excess per reader by the reader's weight. The excess is kept in FINE
        units so the per-minute charge rounds well, then divided."""
        p = problem
        h = round(p.params.idle_horizon_minutes * TIME)
        parts: list[cp_model.LinearExprT] = []
        for r in range(p.m):
            coef = round(p.fair_weight[r] * OBJ / WRVU)
            if coef == 0:
                continue
            base = round(p.base_wrvu[r] * FINE)
            gains = {k: round(p.fair_wrvu[k] * FINE) for k in by_reader[r]}
            per_unit = round(p.charge[r] * FINE / TIME)
            top = max(v.upper[f"load{r}"], h)
            spent = hinted(model.new_int_var(h, top, f"spent{r}"), max(v.value[f"load{r}"], h))
            model.add_max_equality(spent, [v.load[r], h])
            lo, hi = base - per_unit * top, base + sum(gains.values())
            val = (
                base
                + sum(g for k, g in gains.items() if placed[k] == r)
                - per_unit * max(v.value[f"load{r}"], h)
            )
            ex = hinted(model.new_int_var(lo, hi, f"ex{r}"), val)
            model.add(ex == base + sum(g * v.x[k, r] for k, g in gains.items()) - per_unit * spent)
            fine = hinted(model.new_int_var(0, max(abs(lo), abs(hi)), f"absf{r}"), abs(val))
            model.add_abs_equality(fine, ex)
            ab = hinted(
                model.new_int_var(0, max(abs(lo), abs(hi)) // (FINE // WRVU), f"abs{r}"),
                abs(val) // (FINE // WRVU),
            )
            model.add_division_equality(ab, fine, FINE // WRVU)
            parts.append(coef * ab)
        return sum(parts)


TERM = Fairness()
