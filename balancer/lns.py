"""Large-neighbourhood search: CP-SAT re-solves a few readers and their studies at a time.

The fast path (construction, single-study moves) cannot see an improvement that needs several
studies to change reader at once: a swap, a chain of moves through a third reader, a cap
slot freed on one reader to take a study from another. Each round here picks a neighbourhood
(a handful of readers who share eligibility), frees every unpinned study on them to move
among them, and lets CP-SAT solve that sub-model exactly (`balancer.cpsat.build` with a
`scope`: the rest of the department is constant), hinted with the current plan. A round's
answer is kept only when the whole objective, scored from scratch (`balancer.objective`),
drops by more than `MIN_GAIN`; since the objective carries the stability price, a kept round
always pays for the studies it moves.

A `Stop` ends the search between rounds and interrupts a running solve (CP-SAT's
`stop_search`), so the live loop yields to an event at once.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field

import numpy as np
from ortools.sat.python import cp_model

from balancer import cpsat, improve
from balancer.model import Params, Plan, Snapshot
from balancer.objective import evaluate
from balancer.problem import IntArray, compile_problem
from balancer.promote import overtaken
from balancer.state import State

# A round must win at least this much (minutes-equivalent) to be kept: never churn on rounding.
MIN_GAIN = 0.05
# Readers per neighbourhood, and the most studies freed in one (beyond it, fewer readers).
READERS = 4
MAX_STUDIES = 320
# The kinds of neighbourhood, taken in turn.
KINDS = ("pressed", "balance", "random")


class Stop:
    """A flag another thread sets to end the search; it also interrupts a running solve."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._set = False
        self._solver: cp_model.CpSolver | None = None

    def set(self) -> None:
        """End the search: now if a solve is running, else before the next round."""
        with self._lock:
            self._set = True
            if self._solver is not None:
                self._solver.stop_search()

    def is_set(self) -> bool:
        """Whether the search was asked to end."""
        return self._set

    def attach(self, solver: cp_model.CpSolver | None) -> None:
        """The solve now running (None: none); a stop already asked for stops it at once."""
        with self._lock:
            self._solver = solver
            if solver is not None and self._set:
                solver.stop_search()


@dataclass(slots=True)
class Outcome:
    """What a search did: rounds run, rounds kept, the objective they won, and whether it was
    stopped before its time was up."""

    rounds: int = 0
    improvements: int = 0
    won: float = 0.0
    stopped: bool = False
    kinds: dict[str, int] = field(default_factory=dict)  # kept rounds by neighbourhood kind


def neighbourhood(state: State, kind: str, rng: random.Random, size: int = READERS) -> list[int]:
    """A few readers whose studies may trade places, around a seed reader chosen by `kind`.

    `pressed`: the reader whose work is most late or aged (the sequence terms), `balance`: the
    most utilised, `random`: any reader with movable work. The others are the readers who share
    the most eligibility with the seed in both directions (may read its studies, hold studies
    it may read), the least utilised first among equals, with a little chance so that repeated
    rounds do not retry one neighbourhood.
    """
    p = state.p
    movable = (state.assign >= 0) & (p.pinned < 0)
    holders = np.flatnonzero(np.bincount(state.assign[movable], minlength=p.m) > 0)
    if holders.size == 0:
        return []
    util = state.utilisation()
    if kind == "pressed":
        order = holders[np.argsort(-(state.seq[holders] + util[holders]))]
    elif kind == "balance":
        order = holders[np.argsort(-util[holders])]
    else:
        order = holders[rng.sample(range(holders.size), holders.size)]
    # The top few, by chance, so that a seed that cannot improve does not take every round.
    seed = int(order[rng.randrange(min(3, order.size))])
    own = np.flatnonzero((state.assign == seed) & (p.pinned < 0))
    share = p.may_read[own].sum(axis=0).astype(np.float64)
    theirs = movable & p.may_read[:, seed]
    share += np.bincount(state.assign[theirs], minlength=p.m)
    share[seed] = 0
    score = (
        share
        * (1.5 - np.minimum(util, 1.0))
        * np.array([rng.uniform(0.7, 1.3) for _ in range(p.m)])
    )
    partners = [int(r) for r in np.argsort(-score) if score[r] > 0]
    chosen = [seed]
    count = own.size
    for r in partners:
        if len(chosen) >= size:
            break
        held = int(np.count_nonzero(state.assign == r))
        if count + held > MAX_STUDIES and len(chosen) > 1:
            continue
        chosen.append(r)
        count += held
    return chosen if len(chosen) > 1 else []


def solve_round(
    state: State,
    readers: list[int],
    time_limit_s: float,
    stop: Stop,
    *,
    workers: int = 1,
    deterministic: bool = False,
) -> IntArray | None:
    """CP-SAT's answer for the neighbourhood (the whole assignment), or None without one.

    `deterministic`: the limit is CP-SAT's deterministic time on one worker, so a run gives the
    same answer on any machine and load (the simulator)."""
    model, v = cpsat.build(state.p, state.assign, scope=readers)
    solver = cp_model.CpSolver()
    # Presolve of the scoped model outlasts a short round (measured: no solution, not even
    # the hint, in 0.3 s with it; the hint at once and improvements without it).
    solver.parameters.cp_model_presolve = False
    if deterministic:
        solver.parameters.max_deterministic_time = time_limit_s
        solver.parameters.num_workers = 1
    else:
        solver.parameters.max_time_in_seconds = time_limit_s
        solver.parameters.num_workers = workers
    stop.attach(solver)
    try:
        status = solver.solve(model)
    finally:
        stop.attach(None)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return None
    out = state.assign.copy()
    for (k, r), x in v.x.items():
        if solver.boolean_value(x):
            out[k] = r
    return out


def search(
    state: State,
    deadline: float,
    stop: Stop,
    *,
    round_limit_s: float = 0.3,
    seed: int = 0,
    workers: int = 1,
    max_rounds: int | None = None,
    deterministic: bool = False,
) -> Outcome:
    """Neighbourhood rounds on `state` until `deadline` (perf_counter), a stop or `max_rounds`
    (`deterministic`: `max_rounds` only, each round limited in CP-SAT's deterministic time)."""
    rng = random.Random(seed)
    outcome = Outcome()
    p = state.p
    total = evaluate(p, state.assign)["total"]
    held = p.params.hold_overtake_bound
    aged_overtaken = set(overtaken(state).tolist()) if held else set()
    feeding = p.params.feed_idle
    idle = set(improve.idle_readers(state)) if feeding else set()
    empty = 0  # rounds in a row that found no neighbourhood: nothing can trade places
    while (deterministic or time.perf_counter() < deadline) and (
        max_rounds is None or outcome.rounds < max_rounds
    ):
        if stop.is_set():
            outcome.stopped = True
            break
        kind = KINDS[outcome.rounds % len(KINDS)]
        readers = neighbourhood(state, kind, rng)
        if not readers:
            empty += 1
            if empty >= 3 * len(KINDS):
                break
            continue
        empty = 0
        outcome.rounds += 1
        limit = (
            round_limit_s
            if deterministic
            else min(round_limit_s, max(0.01, deadline - time.perf_counter()))
        )
        answer = solve_round(
            state, readers, limit, stop, workers=workers, deterministic=deterministic
        )
        if stop.is_set():
            outcome.stopped = True
            break
        if answer is None:
            continue
        changed = np.flatnonzero(answer != state.assign)
        if changed.size == 0:
            continue
        after = evaluate(p, answer)["total"]
        if after >= total - MIN_GAIN:
            continue
        before = state.assign[changed].copy()
        _apply(state, changed, answer[changed], readers)
        if held:
            now_overtaken = set(overtaken(state).tolist())
            if not now_overtaken <= aged_overtaken:
                # The waiting bound is a rule the objective does not price: an answer that
                # leaves an old study overtaken where it was not is refused, not repaired.
                _apply(state, changed, before, readers)
                continue
            aged_overtaken = now_overtaken
        if feeding:
            now_idle = set(improve.idle_readers(state))
            if not now_idle <= idle:
                # A reader fed by the re-plan (`improve.feed_idle`, a rule the objective does
                # not price) is not left with nothing to read again.
                _apply(state, changed, before, readers)
                continue
            idle = now_idle
        state.moves += int(changed.size)
        outcome.improvements += 1
        outcome.won += total - after
        outcome.kinds[kind] = outcome.kinds.get(kind, 0) + 1
        total = after
    return outcome


def _apply(state: State, ks: IntArray, readers_of: IntArray, touched: list[int]) -> None:
    """Put studies `ks` on `readers_of` (within the neighbourhood `touched`)."""
    for k in ks.tolist():
        state.remove(int(k), refresh=False)
    for k, r in zip(ks.tolist(), readers_of.tolist(), strict=True):
        state.add(int(k), int(r), refresh=False)
    state.refresh(set(touched))


@dataclass(frozen=True, slots=True)
class Searched:
    """A plan the fast path built and the neighbourhood search then improved, with the
    objective of each."""

    plan: Plan
    fast_total: float
    total: float
    outcome: Outcome


def improve_plan(
    snapshot: Snapshot,
    params: Params,
    seconds: float,
    stop: Stop,
    *,
    seed: int = 0,
    round_limit_s: float = 0.3,
    workers: int = 1,
    max_rounds: int | None = None,
    deterministic: bool = False,
) -> Searched:
    """`seconds` of neighbourhood search on the snapshot's current plan (its `assigned_to`).

    When the current plan leaves studies to place (new work, a reader gone, a cap), the fast
    path (`balancer.planner`) places them first, as an event's re-plan would, and the search
    starts from its plan; `fast_total` is the objective the search started from either way.
    `max_rounds` and `deterministic` as in `search` (the simulator's repeatable days).
    """
    from balancer.construct import keep_current
    from balancer.planner import build_plan, solve

    started = time.perf_counter()
    problem = compile_problem(snapshot, params)
    state = State(problem)
    capped: list[int] = []
    formulation = "current"
    if keep_current(state):
        problem, state, capped, formulation, started = solve(snapshot, params)
    fast_total = evaluate(problem, state.assign)["total"]
    outcome = search(
        state,
        time.perf_counter() + seconds,
        stop,
        round_limit_s=round_limit_s,
        seed=seed,
        workers=workers,
        max_rounds=max_rounds,
        deterministic=deterministic,
    )
    if outcome.improvements:
        formulation += "+lns"
    result = build_plan(problem, state, capped, formulation, started)
    return Searched(result, fast_total, fast_total - outcome.won, outcome)
