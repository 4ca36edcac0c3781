"""How a department hands out reads: three common policies and radflow's balancer.

A policy hears about arrivals and roster changes, may re-plan once per simulated minute, and
answers one question: which study does this free reader start now?
"""

from __future__ import annotations

import heapq
from collections import deque
from dataclasses import replace
from typing import Protocol

from balancer.model import Params, Snapshot, Study
from balancer.planner import plan
from balancer.simulation.scenario import Scenario
from balancer.validate import validate
from domain.enums import Priority, RadiologistStatus, Subspecialty

RANK = {Priority.STAT: 0, Priority.URGENT: 1, Priority.ROUTINE: 2}
Key = tuple[Subspecialty, int]


def key_of(study: Study) -> Key:
    """What eligibility depends on in the simulation: subspecialty and site."""
    return (study.subspecialty, study.site_id)


class Policy(Protocol):
    """The engine's view of a policy."""

    name: str
    churn: list[float]
    violations: int

    def arrive(self, k: int, t: float) -> None:
        """Study `k` became ready at minute `t`."""

    def tick(self, t: float, changed: bool, status: list[RadiologistStatus]) -> None:
        """Once per simulated minute, before free readers are served."""

    def next_for(self, r: int, t: float) -> int | None:
        """The study free reader `r` starts at `t` (removed from the waiting work), or None."""

    def started(self, k: int, r: int, t: float) -> None:
        """Reader `r` opened study `k` at `t` (for policies that track open work)."""


class _Shared:
    """Common state: the scenario, which keys each reader may read, waiting work by key."""

    def __init__(self, scn: Scenario) -> None:
        self.scn = scn
        self.churn: list[float] = []
        self.violations = 0
        keys = {key_of(s) for s in scn.studies}
        self.may: list[frozenset[Key]] = [
            frozenset(
                k
                for k in keys
                if k[0] in r.reader.subspecialties and k[1] in r.reader.site_privileges
            )
            for r in scn.roster
        ]

    def started(self, k: int, r: int, t: float) -> None:
        """Pull policies keep no record of open work."""


class Fifo(_Shared):
    """One shared list by priority, then arrival: a free reader takes the first they may read."""

    name = "fifo"

    def __init__(self, scn: Scenario) -> None:
        super().__init__(scn)
        self.queues: dict[tuple[int, Key], deque[int]] = {}

    def arrive(self, k: int, t: float) -> None:
        s = self.scn.studies[k]
        self.queues.setdefault((RANK[s.priority], key_of(s)), deque()).append(k)

    def tick(self, t: float, changed: bool, status: list[RadiologistStatus]) -> None:
        return

    def next_for(self, r: int, t: float) -> int | None:
        may = self.may[r]
        best: tuple[int, float, int] | None = None
        best_q: deque[int] | None = None
        for (rank, key), q in self.queues.items():
            if q and key in may:
                head = q[0]
                cand = (rank, self.scn.ready_min[head], head)
                if best is None or cand < best:
                    best, best_q = cand, q
        return best_q.popleft() if best_q is not None else None


class CherryPick(_Shared):
    """Each free reader takes the study with the most wRVU per read minute they may read."""

    name = "cherry_pick"

    def __init__(self, scn: Scenario) -> None:
        super().__init__(scn)
        self.queues: dict[tuple[float, Key], deque[int]] = {}

    def arrive(self, k: int, t: float) -> None:
        s = self.scn.studies[k]
        density = s.wrvu / s.read_minutes
        self.queues.setdefault((density, key_of(s)), deque()).append(k)

    def tick(self, t: float, changed: bool, status: list[RadiologistStatus]) -> None:
        return

    def next_for(self, r: int, t: float) -> int | None:
        may = self.may[r]
        best: tuple[float, float, int] | None = None
        best_q: deque[int] | None = None
        for (density, key), q in self.queues.items():
            if q and key in may:
                cand = (-density, self.scn.ready_min[q[0]], q[0])
                if best is None or cand < best:
                    best, best_q = cand, q
        return best_q.popleft() if best_q is not None else None


class LeastLoaded(_Shared):
    """Push each arrival to the eligible available reader with the least queued work.

    Each reader reads their own queue by priority, then arrival; a reader who leaves or goes on
    break hands the queue back, and it is pushed out again the same way.
    """

    name = "least_loaded"

    def __init__(self, scn: Scenario) -> None:
        super().__init__(scn)
        m = len(scn.roster)
        self.queue: list[list[tuple[int, float, int]]] = [[] for _ in range(m)]
        self.load = [0.0] * m
        self.pool: list[int] = []
        self.status: list[RadiologistStatus] = [RadiologistStatus.OFF] * m
        self.pace = [8.0 / r.reader.wrvu_per_hour for r in scn.roster]

    def _push(self, k: int) -> bool:
        key = key_of(self.scn.studies[k])
        best, best_r = float("inf"), -1
        for r, may in enumerate(self.may):
            if (
                self.status[r] is RadiologistStatus.AVAILABLE
                and key in may
                and (self.load[r] < best)
            ):
                best, best_r = self.load[r], r
        if best_r < 0:
            return False
        s = self.scn.studies[k]
        heapq.heappush(self.queue[best_r], (RANK[s.priority], self.scn.ready_min[k], k))
        self.load[best_r] += s.read_minutes * self.pace[best_r]
        return True

    def arrive(self, k: int, t: float) -> None:
        if not self._push(k):
            self.pool.append(k)

    def tick(self, t: float, changed: bool, status: list[RadiologistStatus]) -> None:
        if status != self.status:
            self.status = list(status)
            for r, st in enumerate(status):
                if st is not RadiologistStatus.AVAILABLE and self.queue[r]:
                    self.pool.extend(k for _, _, k in sorted(self.queue[r]))
                    self.queue[r] = []
                    self.load[r] = 0.0
        if self.pool:
            pool, self.pool = self.pool, []
            for k in pool:
                if not self._push(k):
                    self.pool.append(k)

    def next_for(self, r: int, t: float) -> int | None:
        if not self.queue[r]:
            return None
        _, _, k = heapq.heappop(self.queue[r])
        self.load[r] = max(0.0, self.load[r] - self.scn.studies[k].read_minutes * self.pace[r])
        return k


class Radflow(_Shared):
    """The balancer: re-plan once per simulated minute with events, read the worklist's head."""

    name = "radflow"

    def __init__(self, scn: Scenario, params: Params) -> None:
        super().__init__(scn)
        self.params = params
        self.current: dict[int, Study] = {}  # waiting and open studies, as the planner sees them
        self.index = {s.id: k for k, s in enumerate(scn.studies)}
        self.worklists: list[deque[int]] = [deque() for _ in scn.roster]
        self.plan_ms: list[float] = []

    def arrive(self, k: int, t: float) -> None:
        s = self.scn.studies[k]
        self.current[s.id] = s

    def tick(self, t: float, changed: bool, status: list[RadiologistStatus]) -> None:
        if not changed:
            return
        scn = self.scn
        now = scn.at(t)
        readers = []
        for sr, st in zip(scn.roster, status, strict=True):
            w = sr.window(t)
            readers.append(
                replace(
                    sr.reader,
                    status=st,
                    shift_start=scn.at(w.start) if w else None,
                    shift_end=scn.at(w.end) if w else None,
                )
            )
        snap = Snapshot(now=now, studies=tuple(self.current.values()), radiologists=tuple(readers))
        result = plan(snap, self.params)
        self.plan_ms.append(result.duration_ms)
        self.violations += len(validate(snap, result))
        rid_index = {sr.reader.id: i for i, sr in enumerate(scn.roster)}
        lists: list[list[tuple[int, int]]] = [[] for _ in scn.roster]
        kept = moved = 0
        active = {r.id for r in readers if r.status is RadiologistStatus.AVAILABLE}
        for sid, a in result.assignments.items():
            s = self.current[sid]
            if s.opened_by is not None:
                continue
            if s.assigned_to is not None and s.assigned_to in active:
                kept += 1
                moved += a.radiologist_id != s.assigned_to
            if s.assigned_to != a.radiologist_id:
                self.current[sid] = replace(s, assigned_to=a.radiologist_id)
            lists[rid_index[a.radiologist_id]].append((a.position, sid))
        for sid in result.unassignable:
            s = self.current[sid]
            if s.assigned_to is not None:
                self.current[sid] = replace(s, assigned_to=None)
        if kept:
            self.churn.append(moved / kept)
        self.worklists = [deque(sid for _, sid in sorted(items)) for items in lists]

    def next_for(self, r: int, t: float) -> int | None:
        wl = self.worklists[r]
        while wl:
            sid = wl.popleft()
            s = self.current.get(sid)
            if s is not None and s.opened_by is None:
                return self.index[sid]
        return None

    def started(self, k: int, r: int, t: float) -> None:
        s = self.scn.studies[k]
        self.current[s.id] = replace(
            self.current[s.id], opened_by=self.scn.roster[r].reader.id, opened_at=self.scn.at(t)
        )

    def finished(self, k: int) -> None:
        """The read of study `k` is signed: it leaves the balancer's view."""
        self.current.pop(self.scn.studies[k].id, None)


def make(name: str, scn: Scenario, params: Params | None = None) -> Policy:
    """A policy by name."""
    if name == "fifo":
        return Fifo(scn)
    if name == "cherry_pick":
        return CherryPick(scn)
    if name == "least_loaded":
        return LeastLoaded(scn)
    if name == "radflow":
        return Radflow(scn, params or Params())
    raise ValueError(f"unknown policy {name!r}")


POLICIES = ("fifo", "cherry_pick", "least_loaded", "radflow")
