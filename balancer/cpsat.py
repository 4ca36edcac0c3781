"""The exact CP-SAT model of the same objective, for `mode="improve"` and the bench's reference.

Because the worklist order is a fixed rule, a study's finish time on a reader is a prefix sum
of the reader's assigned read times in that order: one integer per (study, eligible reader)
chained along the order, and lateness/age as constraints enforced only when the study is on
that reader. Times are tenths of a minute; the objective is in hundredths of a minute.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from ortools.sat.python import cp_model

from balancer.problem import IntArray, Problem
from balancer.state import State
from balancer.terms import PLACEMENT, READER, SEQUENCE
from balancer.terms.base import OBJ, TIME


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
    problem: Problem,
    placed: IntArray,
    *,
    with_hint: bool = True,
    scope: Sequence[int] | None = None,
) -> tuple[cp_model.CpModel, Vars]:
    """The model over the studies `placed` places, hinted completely with `placed` if asked.

    CP-SAT only takes a hint as a solution when every variable is hinted, so derived values
    (finish times, loads, squares) are hinted too. With a `scope` of readers (a neighbourhood,
    `balancer.lns`), only their studies move and only among them; every other study stays
    where `placed` has it, as a constant, so the model stays small and the objective exact up
    to a constant (the sequence terms of the readers outside are left out).
    """
    p = problem
    model = cp_model.CpModel()
    v = Vars()
    inside = np.ones(p.m, dtype=np.bool_)
    if scope is not None:
        inside[:] = False
        inside[list(scope)] = True
    fixed = model.new_constant(1) if scope is not None else None

    def hinted(var: cp_model.IntVar, value: int) -> cp_model.IntVar:
        if with_hint:
            model.add_hint(var, value)
        return var

    ks: list[int] = []
    by_reader: list[list[int]] = [[] for _ in range(p.m)]
    for k in np.flatnonzero(placed >= 0).tolist():
        home = int(placed[k])
        if fixed is not None and not inside[home]:
            v.x[k, home] = fixed
            by_reader[home].append(k)
            continue
        ks.append(k)
        readers = (
            [int(p.pinned[k])] if p.pinned[k] >= 0 else [int(r) for r in p.eligible[k] if inside[r]]
        )
        for r in readers:
            v.x[k, r] = hinted(model.new_bool_var(f"x{k}_{r}"), int(placed[k] == r))
            by_reader[r].append(k)
        model.add_exactly_one(v.x[k, r] for r in readers)
    # Caps: pins are already deducted from the slots.
    for g in range(p.slots.shape[1]):
        for r in np.flatnonzero(inside).tolist():
            members = [v.x[k, r] for k in by_reader[r] if p.group[k] == g and p.pinned[k] < 0]
            if members:
                model.add(sum(members) <= int(p.slots[r, g]))
    # Finish times chained along the worklist order.
    sequence: list[list[cp_model.LinearExprT]] = [[] for _ in SEQUENCE]
    for r in range(p.m):
        if not inside[r]:  # out of scope: its load is a constant
            value = round(p.busy[r] * TIME) + sum(
                round(p.read_time(k, r) * TIME) for k in by_reader[r]
            )
            v.value[f"load{r}"] = v.upper[f"load{r}"] = value
            v.load.append(model.new_constant(value))
            continue
        prev: cp_model.LinearExpr | int = round(p.busy[r] * TIME)
        value = round(p.busy[r] * TIME)
        total = round(p.busy[r] * TIME) + sum(round(p.read_time(k, r) * TIME) for k in by_reader[r])
        for k in sorted(by_reader[r]):
            t = round(p.read_time(k, r) * TIME)
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
        for j, sink in enumerate(sequence):
            lim = int(np.floor(p.hinge_start[j, k] * TIME))
            coef = round(p.hinge_weight[j, k] * OBJ / TIME)
            if coef == 0 or lim >= bound:
                continue
            at = v.value.get(f"f{k}_{int(placed[k])}", 0)
            over = hinted(model.new_int_var(0, bound - min(lim, 0), f"o{k}"), max(0, at - lim))
            for r in readers:
                model.add(over >= v.finish[k, r] - lim).only_enforce_if(v.x[k, r])
            sink.append(coef * over)
    for term, sink in zip(SEQUENCE, sequence, strict=True):
        v.terms[term.name] = sum(sink)
    for reader_term in READER:
        v.terms[reader_term.name] = reader_term.cpsat(model, p, v, by_reader, placed, hinted)
    for placement in PLACEMENT:
        v.terms[placement.name] = placement.cpsat(p, v.x)
    model.minimize(sum(v.terms.values()))
    return model, v


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
