"""The exact CP-SAT model of the same objective, for `mode="improve"` and the bench's reference.

Because the worklist order is a fixed rule, a study's finish time on a reader is a prefix sum
of the reader's assigned read times in that order: one integer per (study, eligible reader)
chained along the order, and lateness/age as constraints enforced only when the study is on
that reader. Times are tenths of a minute; the objective is in hundredths of a minute.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from ortools.sat.python import cp_model

from balancer.problem import IntArray, Problem
from balancer.state import State

TIME = 10  # model time units per minute
OBJ = 100  # objective units per minute-equivalent
WRVU = 100  # model units per wRVU
FINE = 10_000  # model units per wRVU where a per-minute rate multiplies a time


@dataclass(slots=True)
class Vars:
    """The decision variables and the derived quantities the terms read."""

    x: dict[tuple[int, int], cp_model.IntVar] = field(default_factory=dict)
    finish: dict[tuple[int, int], cp_model.IntVar] = field(default_factory=dict)
    load: list[cp_model.IntVar] = field(default_factory=list)
    upper: dict[str, int] = field(default_factory=dict)  # upper bound of each named variable
    value: dict[str, int] = field(default_factory=dict)  # its value under the hinted assignment
    terms: dict[str, cp_model.LinearExprT] = field(default_factory=dict)


def build(
    problem: Problem, placed: IntArray, *, with_hint: bool = True
) -> tuple[cp_model.CpModel, Vars]:
    """The model over the studies `placed` places, hinted completely with `placed` if asked.

    CP-SAT only takes a hint as a solution when every variable is hinted, so derived values
    (finish times, loads, squares) are hinted too.
    """
    p = problem
    w = p.params.weights
    model = cp_model.CpModel()
    v = Vars()

    def hinted(var: cp_model.IntVar, value: int) -> cp_model.IntVar:
        if with_hint:
            model.add_hint(var, value)
        return var

    ks = [k for k in range(p.n) if placed[k] >= 0]
    by_reader: list[list[int]] = [[] for _ in range(p.m)]
    for k in ks:
        readers = [int(p.pinned[k])] if p.pinned[k] >= 0 else [int(r) for r in p.eligible[k]]
        for r in readers:
            v.x[k, r] = hinted(model.new_bool_var(f"x{k}_{r}"), int(placed[k] == r))
            by_reader[r].append(k)
        model.add_exactly_one(v.x[k, r] for r in readers)
    # Caps: pins are already deducted from the slots.
    for g in range(p.slots.shape[1]):
        for r in range(p.m):
            members = [v.x[k, r] for k in by_reader[r] if p.group[k] == g and p.pinned[k] < 0]
            if members:
                model.add(sum(members) <= int(p.slots[r, g]))
    # Finish times chained along the worklist order.
    late_terms: list[cp_model.LinearExprT] = []
    age_terms: list[cp_model.LinearExprT] = []
    urgency_terms: list[cp_model.LinearExprT] = []
    for r in range(p.m):
        prev: cp_model.LinearExprT = round(p.busy[r] * TIME)
        value = round(p.busy[r] * TIME)
        total = round(p.busy[r] * TIME) + sum(
            round(p.nominal[k] * p.inv_speed[r] * TIME) for k in by_reader[r]
        )
        for k in sorted(by_reader[r]):
            t = round(p.nominal[k] * p.inv_speed[r] * TIME)
            value += t * int(placed[k] == r)
            f = hinted(model.new_int_var(0, total, f"f{k}_{r}"), value)
            v.value[f"f{k}_{r}"] = value
            v.upper[f"f{k}_{r}"] = total
            model.add(f == prev + t * v.x[k, r])
            v.finish[k, r] = f
            prev = f
        load = hinted(model.new_int_var(0, total, f"load{r}"), value)
        v.value[f"load{r}"] = value
        v.upper[f"load{r}"] = total
        model.add(load == prev)
        v.load.append(load)
    for k in ks:
        readers = [r for r in range(p.m) if (k, r) in v.x]
        bound = max(v.upper[f"f{k}_{r}"] for r in readers)
        for limit, weight, sink in (
            (p.due[k], p.late_weight[k], late_terms),
            (p.aged[k], w.age, age_terms),
            (0.0, p.urgency_weight[k], urgency_terms),
        ):
            lim = int(np.floor(limit * TIME))
            coef = round(weight * OBJ / TIME)
            if coef == 0 or lim >= bound:
                continue
            at = v.value.get(f"f{k}_{int(placed[k])}", 0)
            over = hinted(model.new_int_var(0, bound - min(lim, 0), f"o{k}"), max(0, at - lim))
            for r in readers:
                model.add(over >= v.finish[k, r] - lim).only_enforce_if(v.x[k, r])
            sink.append(coef * over)
    v.terms["lateness"] = sum(late_terms)
    v.terms["age"] = sum(age_terms)
    v.terms["urgency"] = sum(urgency_terms)
    v.terms["balance"] = _balance(model, p, v, hinted)
    v.terms["idle"] = _idle(model, p, v, hinted)
    v.terms["fairness"] = _fairness(model, p, v, by_reader, placed, hinted)
    v.terms["stability"] = sum(
        round(p.move_price[k] * OBJ) * (1 - v.x[k, int(p.prior[k])])
        for k in ks
        if p.prior[k] >= 0 and (k, int(p.prior[k])) in v.x
    )
    model.minimize(sum(v.terms.values()))
    return model, v


Hinter = Callable[[cp_model.IntVar, int], cp_model.IntVar]


def _balance(model: cp_model.CpModel, p: Problem, v: Vars, hinted: Hinter) -> cp_model.LinearExprT:
    """sum L^2/c - (sum L)^2/sum c, in objective units, through integer squares and divisions."""
    w = p.params.weights.balance
    if w == 0 or p.m == 0:
        return 0
    # L in TIME units: L^2/c in minutes is L_t^2 / (TIME^2 c); times OBJ.
    scale = OBJ * w / (TIME * TIME)
    parts = []
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
    term = sum(parts) - mean
    # A variance is never negative; saying so (less the rounding of m divisions) keeps the
    # LP bound from going below zero on this term.
    model.add(term >= -p.m)
    return term


def _idle(model: cp_model.CpModel, p: Problem, v: Vars, hinted: Hinter) -> cp_model.LinearExprT:
    """Idle minutes within the horizon per reader, max(0, H - L), in objective units."""
    h = round(p.params.idle_horizon_minutes * TIME)
    if p.params.weights.idle == 0 or h <= 0:
        return 0
    parts = []
    for r, load in enumerate(v.load):
        # Reference minutes: a fast reader's idle minute wastes more (terms/idle.py).
        coef = round(p.params.weights.idle * OBJ / TIME / float(p.inv_speed[r]))
        gap = hinted(model.new_int_var(0, h, f"idle{r}"), max(0, h - v.value[f"load{r}"]))
        model.add(gap >= h - load)
        parts.append(coef * gap)
    return sum(parts)


def _fairness(
    model: cp_model.CpModel,
    p: Problem,
    v: Vars,
    by_reader: list[list[int]],
    placed: IntArray,
    hinted: Hinter,
) -> cp_model.LinearExprT:
    """Absolute wRVU excess per reader (terms/fairness.py) by the reader's weight, in objective
    units. The excess is kept in FINE units so the per-minute charge rounds well, then divided.
    """
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


@dataclass(slots=True)
class Outcome:
    """What a CP-SAT run returned: its assignment (when it found one) and its bound."""

    assign: IntArray | None
    objective: float
    bound: float
    status: str
    wall_s: float


def solve(
    problem: Problem,
    assign: IntArray,
    time_limit_s: float,
    *,
    use_hint: bool = True,
    workers: int = 2,
) -> Outcome:
    """Solve the model over the studies `assign` places, hinted with `assign` when asked."""
    model, v = build(problem, assign, with_hint=use_hint)
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = time_limit_s
    solver.parameters.num_workers = workers
    status = solver.solve(model)
    found = status in (cp_model.OPTIMAL, cp_model.FEASIBLE)
    out: IntArray | None = None
    if found:
        out = np.full(problem.n, -1, dtype=np.int64)
        for (k, r), x in v.x.items():
            if solver.boolean_value(x):
                out[k] = r
    return Outcome(
        assign=out,
        objective=solver.objective_value / OBJ if found else float("inf"),
        bound=solver.best_objective_bound / OBJ,
        status=solver.status_name(status),
        wall_s=solver.wall_time,
    )


def improve(state: State, time_limit_s: float) -> bool:
    """Let CP-SAT improve the state's assignment; apply its answer when it scores better."""
    from balancer.objective import evaluate

    p = state.p
    before = evaluate(p, state.assign)["total"]
    outcome = solve(p, state.assign, time_limit_s)
    if outcome.assign is None:
        return False
    after = evaluate(p, outcome.assign)["total"]
    if after >= before:
        return False
    for k in range(p.n):
        if outcome.assign[k] >= 0 and outcome.assign[k] != state.assign[k]:
            state.remove(k, refresh=False)
            state.add(k, int(outcome.assign[k]), refresh=False)
    state.refresh_all()
    return True
