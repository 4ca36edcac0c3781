"""Balance: capacity-weighted variance of utilisation (load / remaining shift) across readers.

sum_r c_r (L_r/c_r - u)^2 with u = sum L / sum c equals sum L^2/c - (sum L)^2 / sum c, which
keeps the change of one move O(1) from two running sums (`State.s1`, `State.s2`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from balancer.terms.base import OBJ, TIME, FloatArray, Hinter, IntArray, ReaderTerm

if TYPE_CHECKING:
    from ortools.sat.python import cp_model

    from balancer.problem import Problem
    from balancer.state import State


def from_sums(problem: Problem, s1: float, s2: float, total_capacity: float) -> float:
    """The weighted term from sum L and sum L^2/c."""
    if total_capacity <= 0:
        return 0.0
    return problem.params.weights.balance * (s2 - s1 * s1 / total_capacity)


class Balance(ReaderTerm):
    name = "balance"
    default_weight = 1.0
    description = "Capacity-weighted variance of readers' utilisation over their remaining shift."
    position = 40
    rule_settable = True

    def cost(self, problem: Problem, load: FloatArray, held: FloatArray) -> float:
        """The weighted term for per-reader loads (minutes, opened work included)."""
        if not problem.m:
            return 0.0
        cap = problem.capacity
        return from_sums(
            problem, float(load.sum()), float((load * load / cap).sum()), float(cap.sum())
        )

    def delta(self, state: State, k: int, a: int, b: int) -> float:
        """From the state's running sums."""
        p = state.p
        cap, s1, s2 = p.capacity, state.s1, state.s2
        for r, sign in ((a, -1.0), (b, 1.0)):
            if r >= 0:
                old, dl = state.load[r], sign * p.read_time(k, r)
                s1 += dl
                s2 += ((old + dl) ** 2 - old * old) / cap[r]
        return from_sums(p, s1, s2, state.ctot) - from_sums(p, state.s1, state.s2, state.ctot)

    def sweep(
        self, state: State, k: int, cand: IntArray, t: FloatArray, load: FloatArray
    ) -> FloatArray | float:
        """The growth of sum L^2/c (the mean part moves alike for every candidate)."""
        out: FloatArray = (
            state.p.params.weights.balance * (2.0 * load + t) * t / state.p.capacity[cand]
        )
        return out

    def insertion(
        self, state: State, ks: IntArray, r: int, t: FloatArray, load: FloatArray
    ) -> FloatArray | float:
        """As in the sweep, on one reader."""
        p = state.p
        out: FloatArray = p.params.weights.balance * (2.0 * load + t) * t / p.capacity[r]
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
        """sum L^2/c - (sum L)^2/sum c, through integer squares and divisions."""
        p = problem
        w = p.params.weights.balance
        if w == 0 or p.m == 0:
            return 0
        # L in TIME units: L^2/c in minutes is L_t^2 / (TIME^2 c); times OBJ.
        scale = OBJ * w / (TIME * TIME)
        parts: list[cp_model.LinearExprT] = []
        for r, load in enumerate(v.load):
            hi, val = v.upper[f"load{r}"], v.value[f"load{r}"]
            sq = hinted(model.new_int_var(0, hi * hi, f"sq{r}"), val * val)
            model.add_multiplication_equality(sq, [load, load])
            div = max(1, round(p.capacity[r] / scale))
            q = hinted(model.new_int_var(0, hi * hi, f"q{r}"), val * val // div)
            model.add_division_equality(q, sq, div)
            parts.append(q)
        total_hi = sum(v.upper[f"load{r}"] for r in range(p.m))
        sval = sum(v.value[f"load{r}"] for r in range(p.m))
        s = hinted(model.new_int_var(0, total_hi, "sumload"), sval)
        model.add(s == sum(v.load))
        s2 = hinted(model.new_int_var(0, total_hi * total_hi, "sumload2"), sval * sval)
        model.add_multiplication_equality(s2, [s, s])
        div = max(1, round(float(p.capacity.sum()) / scale))
        mean = hinted(model.new_int_var(0, total_hi * total_hi, "meanpart"), sval * sval // div)
        model.add_division_equality(mean, s2, div)
        term: cp_model.LinearExprT = sum(parts) - mean
        # A variance is never negative; saying so (less the rounding of m divisions) keeps the
        # LP bound from going below zero on this term.
        model.add(term >= -p.m)
        return term


TERM = Balance()
