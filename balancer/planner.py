"""`plan(snapshot, params)`: the balancer's one entry point, a pure function of its inputs."""

from __future__ import annotations

import gc
import time

import numpy as np

from balancer import construct, improve, placement, promote
from balancer.assignments import PlannedAssignments
from balancer.compiler import Compiler
from balancer.frontier import Frontier, Keeper, Watch
from balancer.model import Assignment, Params, Plan, Snapshot
from balancer.objective import evaluate, over_count
from balancer.problem import Problem
from balancer.state import State


def plan(snapshot: Snapshot, params: Params | None = None) -> Plan:
    """Assign and order every unread study; report what cannot be placed and why."""
    return build_plan(*solve(snapshot, params))


class Planner:
    """`plan` for one department snapshot after another, keeping each study's compiled row
    between them (`balancer.compiler`): a re-plan reads again only what changed. Its plans
    are `plan`'s."""

    def __init__(self) -> None:
        self._compiler = Compiler()
        self._kept = Keeper()

    def plan(self, snapshot: Snapshot, params: Params | None = None) -> Plan:
        """As `balancer.plan`, with Python's cycle collector paused while it plans."""
        # A re-plan makes no reference cycles (reference counting frees what it drops), but
        # its allocations can set off a collection of the whole process's heap, which with
        # 20,000 studies kept costs more than the re-plan itself; paused, that collection
        # runs at the first allocation after it instead (docs/balancer.md, network scale).
        paused = gc.isenabled()
        gc.disable()
        try:
            return build_plan(*self.solve(snapshot, params))
        finally:
            if paused:
                gc.enable()

    def solve(
        self, snapshot: Snapshot, params: Params | None = None
    ) -> tuple[Problem, State, list[int], str, float]:
        """As `solve`."""
        return solve(snapshot, params, self._compiler, self._kept)


def solve(
    snapshot: Snapshot,
    params: Params | None = None,
    compiler: Compiler | None = None,
    kept: Keeper | None = None,
) -> tuple[Problem, State, list[int], str, float]:
    """The search behind `plan`: the problem, the searched state, the studies left out by
    their caps, the formulation and when it started (what `build_plan` and `balancer.lns`
    take). A `compiler` kept from earlier snapshots compiles only what changed; so, with the
    waiting bound held, does the watch with what the last call `kept` of it (given with the
    same compiler)."""
    started = time.perf_counter()
    params = params or Params()
    compiler = compiler or Compiler()
    problem = compiler.compile(snapshot, params)
    # The memo describes the state the last call ended in, and `revised` what changed since
    # the last compile: taken now, so that a call that fails or skips the bound leaves none.
    memo = kept.memo if kept is not None else None
    if kept is not None:
        kept.memo = None
    state = State(problem)
    rest = construct.keep_current(state)
    cold = construct.is_cold(state, rest)
    large = not cold and len(rest) > construct.EXACT_INSERT_LIMIT
    if cold:
        deadline = started + params.cold_budget_s(problem.n)
        state, capped = construct.cold_start(state, rest, params.sweeps, deadline)
    elif large:
        # A large event (a leaver with a long list, a burst of STATs) stays incremental: the
        # cap groups' studies are placed by the flow at once, the rest by pruned insertion.
        # Never less time than a single event gets (the simulator's generous limits).
        deadline = started + max(params.large_event_time_limit_s, params.time_limit_s)
        grouped = [k for k in rest if problem.group[k] >= 0]
        capped = placement.maximise(state, grouped) if grouped else []
        free = [k for k in rest if problem.group[k] < 0]
        capped += construct.insert_exact(state, free, construct.WIDE, guarded=False)
    else:
        deadline = started + params.time_limit_s
        capped = construct.insert_exact(state, rest, construct.NARROW)
    if capped and not large:  # placed one by one: re-place the cap groups for the maximum
        capped = placement.maximise(state, capped)
    # The waiting bound's violations, kept exact from here on (`frontier.Watch`): a re-plan's
    # touch-up makes no move that leaves a study overtaken, and the repair sees to the rest.
    watch = (
        Watch(state, memo, compiler.revised) if params.hold_overtake_bound and not cold else None
    )
    if cold:
        improve.search(state, deadline)
    else:
        touched = {int(state.assign[k]) for k in rest if state.assign[k] >= 0}
        improve.touch_up(state, touched, deadline, watch)
    improve.settle(state, deadline, Frontier(state) if watch is not None else None, watch)
    if params.hold_overtake_bound:  # a rule: repaired to the end, whatever the clock
        watch = watch or Watch(state)
        promote.repair(state, watch)
        if kept is not None:
            kept.memo = watch.keep()
    formulation = ("sweep" if cold else "insert") + "+relocate"
    if params.hold_overtake_bound:  # what a supervisor reads on `balancerStatus`
        formulation += f"+waiting bound {params.overtake_margin_minutes:g} min"
    if params.mode == "improve" and problem.n:
        from balancer import cpsat  # CP-SAT is only imported when asked for

        if cpsat.improve(state, params.improve_time_limit_s):
            formulation += "+cpsat"
    return problem, state, capped, formulation, started


def build_plan(
    problem: Problem, state: State, capped: list[int], formulation: str, started: float
) -> Plan:
    """Turn a search state into the frozen Plan; each assignment is explained when read."""
    snap = problem.snapshot
    now = snap.now
    opened: dict[int, Assignment] = {}
    for rid, studies in problem.opened.items():
        for pos, s in enumerate(studies):
            opened[s.id] = Assignment(
                study_id=s.id,
                radiologist_id=rid,
                position=pos,
                projected_start=now,
                projected_finish=now,
                reason=f"opened by radiologist {rid}: never moved",
            )
    finish = np.full(problem.n, np.nan)
    for r in range(problem.m):
        finish[state.arr[r]] = state.fin[r]
    load = state.load.copy()
    util = state.utilisation()
    over = _over_cap(problem, state)
    roster = len(snap.radiologists)

    def explain(k: int, r: int, fin: float) -> str:
        s = problem.studies[k]
        t = problem.read_time(k, r)
        if problem.pinned[k] >= 0:
            why = "pinned by a supervisor"
        elif problem.prior[k] == r:
            why = "kept: still a good fit"
        else:
            why = "best fit" + _faster(problem, k, r)
        return (
            f"{why}; {len(problem.eligible[k])} of {roster} radiologists eligible; "
            f"{s.priority} {s.patient_class} {_due(problem.due[k])}, projected start "
            f"in {fin - t:.0f} min; reader load {load[r]:.0f} min of "
            f"{problem.capacity[r]:.0f} min left in shift ({util[r]:.0%})"
            + (f"; {problem.lapsed_pins[s.id]}" if s.id in problem.lapsed_pins else "")
            + (f"; {over[k]}" if k in over else "")
        )

    unassignable = dict(problem.unassignable)
    for k in capped:
        s = problem.studies[k]
        unassignable[s.id] = (
            f"every eligible radiologist is at the cap for {s.cap_group}, "
            "and no re-arrangement of its other studies makes room"
        )
    objective = evaluate(problem, state.assign)
    return Plan(
        assignments=PlannedAssignments(problem, state.assign.copy(), finish, opened, explain),
        unassignable=unassignable,
        objective=objective,
        formulation=formulation,
        duration_ms=(time.perf_counter() - started) * 1000.0,
    )


def _over_cap(problem: Problem, state: State) -> dict[int, str]:
    """The studies placed over a cap that bends for STAT (only STATs go over it: the last ones
    of their group on the worklist), each with the reason a supervisor reads."""
    out: dict[int, str] = {}
    if not np.isfinite(problem.group_price).any():
        return out
    snap = problem.snapshot
    counts = over_count(problem, state.assign)
    for r, g in zip(*np.nonzero(counts), strict=True):
        lst = state.lists[int(r)]
        members = [
            k
            for k in lst
            if problem.group[k] == g
            and problem.pinned[k] < 0
            and np.isfinite(problem.over_price[k])
        ]
        if not members:  # a cap that holds is never over (validate would say so)
            continue
        name = problem.studies[members[0]].cap_group
        cap = snap.caps.get(str(name), 0)
        for k in members[-int(counts[r, g]) :]:
            out[k] = (
                f"over the cap for {name} (at most {cap} per radiologist): the rule bends it "
                f"for STAT at a price of {problem.group_price[g]:g}; within the caps this STAT "
                "had no reader, or a later start that cost more"
            )
    return out


# A learned pace this far below the reader's usual one is named in the reason: the study went
# to them (also) because they read such studies faster.
FASTER_PACE = 0.9


def _faster(problem: Problem, k: int, r: int) -> str:
    """Why a reader's learned pace helped: they read this study's group faster than usual."""
    factor = problem.learned_pace(k, r)
    if factor > FASTER_PACE:
        return ""
    group = problem.studies[k].procedure_group
    return (
        f": reads {group} studies faster ({factor:.0%} of their usual time, learned from the"
        " reads they signed)"
    )


def _due(minutes: float) -> str:
    """When a study is due, in words a supervisor reads at a glance."""
    return f"due in {minutes:.0f} min" if minutes >= 0 else f"overdue by {-minutes:.0f} min"
