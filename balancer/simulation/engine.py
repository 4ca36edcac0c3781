"""The simulated clock: arrivals, shifts, breaks and reads, minute by minute, under one policy."""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass, field

from balancer.model import Params
from balancer.simulation.info import Adjust
from balancer.simulation.policies import Placed, Policy, Radflow, key_of, limits, make
from balancer.simulation.scenario import Scenario
from domain.enums import RadiologistStatus

# Stop draining the queue after this many minutes (two days): a study still unread then
# counts with the wait it has had so far.
HORIZON = 48 * 60


@dataclass(slots=True)
class Run:
    """What happened to every study under one policy."""

    policy: str
    start: list[float]
    finish: list[float]
    reader: list[int]
    churn: list[float] = field(default_factory=list)
    ineligible: int = 0
    violations: int = 0
    plan_ms: list[float] = field(default_factory=list)
    # radflow with its neighbourhood search: the fast path's objective summed over re-plans,
    # what the search won on it, and the rounds it kept (all 0 without a search).
    fast_objective: float = 0.0
    search_won: float = 0.0
    search_kept: int = 0
    # radflow asked for its history: per study index, each (minute, roster reader, worklist
    # position) its re-plans gave it, a row whenever the reader or position changed.
    history: dict[int, list[Placed]] = field(default_factory=dict)
    # Per hour of the day: reader-minutes in which a reader on duty and available had nothing
    # to read while a study they may read was waiting (ready, not opened) anywhere.
    idle_with_work: list[int] = field(default_factory=list)


def simulate(
    scn: Scenario,
    policy_name: str,
    *,
    params: Params | None = None,
    progress: Callable[[int], None] | None = None,
    adjust: Adjust | None = None,
    search_rounds: int = 0,
    history: bool = False,
) -> Run:
    """Replay the scenario's day under one policy; `progress(minutes)` is told as time passes.

    `adjust(snapshot, params, scn.info)` applies rules: radflow calls it on every snapshot just
    before it plans (and plans with the params it returns); the other policies call it once per
    study at arrival, on a snapshot of that study alone, and read its priority, subspecialty and
    allowed/excluded readers from the result. `search_rounds`: radflow follows each re-plan
    with that many rounds of the live loop's neighbourhood search (`balancer.lns`). `history`:
    radflow keeps where each re-plan put every study (`Run.history`, `metrics.story`).
    """
    policy: Policy = make(policy_name, scn, params, adjust, search_rounds)
    if history and isinstance(policy, Radflow):
        policy.history = {}
    n, m = len(scn.studies), len(scn.roster)
    run = Run(policy_name, [float("nan")] * n, [float("nan")] * n, [-1] * n)
    free_at = [0.0] * m
    reading: list[int | None] = [None] * m
    status_before: list[RadiologistStatus] = []
    arrived = started = 0
    waiting: set[int] = set()
    run.idle_with_work = [0] * ((HORIZON + 59) // 60)
    t = 0
    while (started < n or any(x is not None for x in reading)) and t < HORIZON:
        changed = False
        while arrived < n and scn.ready_min[arrived] <= t:
            policy.arrive(arrived, t)
            waiting.add(arrived)
            arrived += 1
            changed = True
        for r in range(m):
            k = reading[r]
            if k is not None and free_at[r] <= t:
                reading[r] = None
                changed = True
                policy.finished(k)
        status = [sr.status(t) for sr in scn.roster]
        if status != status_before:
            changed = True
            status_before = status
        policy.tick(t, changed, status)
        # Readers who are or fall free within this minute, served in the order they free up.
        free = [
            (max(free_at[r], float(t)), r)
            for r in range(m)
            if status[r] is RadiologistStatus.AVAILABLE and free_at[r] < t + 1
        ]
        heapq.heapify(free)
        while free:
            at, r = heapq.heappop(free)
            k = reading[r]
            if k is not None:
                policy.finished(k)
                reading[r] = None
                policy.freed(r, at, status)
            nxt = policy.next_for(r, at)
            if nxt is None:
                free_at[r] = max(free_at[r], float(t))
                continue
            if not policy.may_read(nxt, r):
                run.ineligible += 1
            duration = scn.read_time(nxt, r)
            run.start[nxt], run.finish[nxt], run.reader[nxt] = at, at + duration, r
            policy.started(nxt, r, at)
            waiting.discard(nxt)
            reading[r] = nxt
            free_at[r] = at + duration
            started += 1
            if free_at[r] < t + 1:
                heapq.heappush(free, (free_at[r], r))
        idle = [
            r for r in range(m) if status[r] is RadiologistStatus.AVAILABLE and reading[r] is None
        ]
        if idle and waiting:
            run.idle_with_work[t // 60] += _idle_with_work(policy, idle, waiting)
        if progress is not None:
            progress(t)
        t += 1
    for k in range(n):
        if run.finish[k] != run.finish[k]:  # never read within the horizon: censored wait
            run.finish[k] = float(HORIZON)
    run.churn = policy.churn
    run.violations = policy.violations
    if isinstance(policy, Radflow):
        run.plan_ms = policy.plan_ms
        run.fast_objective = policy.fast_objective
        run.search_won = policy.search_won
        run.search_kept = policy.search_kept
        run.history = policy.history or {}
    return run


def _idle_with_work(policy: Policy, idle: list[int], waiting: set[int]) -> int:
    """How many of the `idle` readers may read one of the `waiting` studies (eligibility
    checked once per kind of study: subspecialty, site and the rules' reader limits)."""
    kinds = {(key_of(s), limits(s)): k for k, s in ((k, policy.view_of(k)) for k in waiting)}
    return sum(1 for r in idle if any(policy.may_read(k, r) for k in kinds.values()))
