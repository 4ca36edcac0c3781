"""How a department hands out reads: three common policies and radflow's balancer.

A policy hears about arrivals and roster changes, may re-plan once per simulated minute, and
answers one question: which study does this free reader start now?
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Mapping
from dataclasses import replace
from typing import Protocol

from balancer import lns
from balancer.model import Params, Snapshot, Study
from balancer.paces import PaceHistory, learned_paces
from balancer.planner import plan
from balancer.problem import remaining_read
from balancer.simulation.info import Adjust
from balancer.simulation.scenario import Scenario
from balancer.validate import validate
from domain.enums import Priority, RadiologistStatus, Subspecialty

RANK = {Priority.STAT: 0, Priority.URGENT: 1, Priority.ROUTINE: 2}
URGENT_TIERS = frozenset({Priority.STAT, Priority.URGENT})
# A reader who signs within a minute triggers a re-plan when urgent work they may read is next
# on a worklist whose reader is projected busy for at least this long (`Radflow.freed`).
SOONER_MINUTES = 2.0
# Each search round's limit in CP-SAT's deterministic time (the simulated day is repeatable),
# and the search follows every this many re-plans (every one would make a day hours long).
SEARCH_ROUND_DETERMINISTIC_S = 0.05
SEARCH_EVERY = 30
Key = tuple[Subspecialty, int]
# Where a re-plan put a study: (minute, roster reader, position on their worklist).
Placed = tuple[int, int, int]
Limits = tuple[frozenset[int] | None, frozenset[int]]


def key_of(study: Study) -> Key:
    """What eligibility depends on in the simulation: subspecialty and site."""
    return (study.subspecialty, study.site_id)


def limits(study: Study) -> Limits:
    """A rule's allowed and excluded readers for the study (queues are split by them)."""
    return (study.allowed_radiologists, study.excluded_radiologists)


class Policy(Protocol):
    """The engine's view of a policy."""

    name: str
    churn: list[float]
    violations: int

    def arrive(self, k: int, t: float) -> None:
        """Study `k` became ready at minute `t`."""

    def tick(self, t: float, changed: bool, status: list[RadiologistStatus]) -> None:
        """Once per simulated minute, before free readers are served."""

    def freed(self, r: int, t: float, status: list[RadiologistStatus]) -> None:
        """Reader `r` signed a read at `t`, within a minute, and is about to start the next."""

    def next_for(self, r: int, t: float) -> int | None:
        """The study free reader `r` starts at `t` (removed from the waiting work), or None."""

    def started(self, k: int, r: int, t: float) -> None:
        """Reader `r` opened study `k` at `t` (for policies that track open work)."""

    def finished(self, k: int) -> None:
        """The read of study `k` is signed."""

    def may_read(self, k: int, r: int) -> bool:
        """True when roster reader `r` may read study `k` (as the rules see it)."""

    def view_of(self, k: int) -> Study:
        """Study `k` as the rules last showed it to the policy."""


class _Shared:
    """Common state: the scenario, each study as the rules see it, who may read what.

    `view[k]` is study `k` after the `adjust` hook, applied once at arrival to a snapshot of
    that one study (so the pull and push policies honour a rule's subspecialty, priority, due
    time and allowed/excluded readers as stamped at arrival; escalation over time is radflow's).
    """

    def __init__(self, scn: Scenario, adjust: Adjust | None = None) -> None:
        self.scn = scn
        self.adjust = adjust
        self.churn: list[float] = []
        self.violations = 0
        self.view: list[Study] = list(scn.studies)
        self._may: dict[tuple[int, Key], bool] = {}

    def _arrived(self, k: int, t: float) -> Study:
        """Study `k` as the rules see it at arrival."""
        s = self.scn.studies[k]
        if self.adjust is not None:
            snap = Snapshot(now=self.scn.at(t), studies=(s,), radiologists=())
            adjusted, _ = self.adjust(snap, Params(), self.scn.info)
            s = next((a for a in adjusted.studies if a.id == s.id), s)
            self.view[k] = s
        return s

    def _may_key(self, r: int, key: Key) -> bool:
        ok = self._may.get((r, key))
        if ok is None:
            reader = self.scn.roster[r].reader
            ok = key[0] in reader.subspecialties and key[1] in reader.site_privileges
            self._may[(r, key)] = ok
        return ok

    def view_of(self, k: int) -> Study:
        """Study `k` as the rules last showed it to the policy."""
        return self.view[k]

    def may_read(self, k: int, r: int) -> bool:
        """True when roster reader `r` may read study `k` as the rules see it."""
        s = self.view[k]
        rid = self.scn.roster[r].reader.id
        return (
            self._may_key(r, key_of(s))
            and (s.allowed_radiologists is None or rid in s.allowed_radiologists)
            and rid not in s.excluded_radiologists
        )

    def started(self, k: int, r: int, t: float) -> None:
        """Pull policies keep no record of open work."""

    def freed(self, r: int, t: float, status: list[RadiologistStatus]) -> None:
        """Pull policies pick at `next_for`; nothing to do when a reader frees up."""

    def finished(self, k: int) -> None:
        """Pull policies keep no record of open work."""


class Fifo(_Shared):
    """One shared list by priority, then arrival: a free reader takes the first they may read."""

    name = "fifo"

    def __init__(self, scn: Scenario, adjust: Adjust | None = None) -> None:
        super().__init__(scn, adjust)
        self.queues: dict[tuple[int, Key, Limits], deque[int]] = {}

    def arrive(self, k: int, t: float) -> None:
        s = self._arrived(k, t)
        self.queues.setdefault((RANK[s.priority], key_of(s), limits(s)), deque()).append(k)

    def tick(self, t: float, changed: bool, status: list[RadiologistStatus]) -> None:
        return

    def next_for(self, r: int, t: float) -> int | None:
        best: tuple[int, float, int] | None = None
        best_q: deque[int] | None = None
        for (rank, _, _), q in self.queues.items():
            if q and self.may_read(q[0], r):
                head = q[0]
                cand = (rank, self.scn.ready_min[head], head)
                if best is None or cand < best:
                    best, best_q = cand, q
        return best_q.popleft() if best_q is not None else None


class CherryPick(_Shared):
    """Each free reader takes the study with the most wRVU per read minute they may read."""

    name = "cherry_pick"

    def __init__(self, scn: Scenario, adjust: Adjust | None = None) -> None:
        super().__init__(scn, adjust)
        self.queues: dict[tuple[float, Key, Limits], deque[int]] = {}

    def arrive(self, k: int, t: float) -> None:
        s = self._arrived(k, t)
        density = s.wrvu / s.read_minutes
        self.queues.setdefault((density, key_of(s), limits(s)), deque()).append(k)

    def tick(self, t: float, changed: bool, status: list[RadiologistStatus]) -> None:
        return

    def next_for(self, r: int, t: float) -> int | None:
        best: tuple[float, float, int] | None = None
        best_q: deque[int] | None = None
        for (density, _, _), q in self.queues.items():
            if q and self.may_read(q[0], r):
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

    def __init__(self, scn: Scenario, adjust: Adjust | None = None) -> None:
        super().__init__(scn, adjust)
        m = len(scn.roster)
        self.queue: list[list[tuple[int, float, int]]] = [[] for _ in range(m)]
        self.load = [0.0] * m
        self.pool: list[int] = []
        self.status: list[RadiologistStatus] = [RadiologistStatus.OFF] * m
        self.pace = [8.0 / r.reader.wrvu_per_hour for r in scn.roster]

    def _push(self, k: int) -> bool:
        best, best_r = float("inf"), -1
        for r in range(len(self.load)):
            if (
                self.status[r] is RadiologistStatus.AVAILABLE
                and self.load[r] < best
                and self.may_read(k, r)
            ):
                best, best_r = self.load[r], r
        if best_r < 0:
            return False
        s = self.view[k]
        heapq.heappush(self.queue[best_r], (RANK[s.priority], self.scn.ready_min[k], k))
        self.load[best_r] += s.read_minutes * self.pace[best_r]
        return True

    def arrive(self, k: int, t: float) -> None:
        self._arrived(k, t)
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

    def __init__(
        self,
        scn: Scenario,
        params: Params,
        adjust: Adjust | None = None,
        search_rounds: int = 0,
        *,
        learn: bool = False,
    ) -> None:
        super().__init__(scn, adjust)
        self.params = params
        # The live loop's neighbourhood search between events (balancer.lns), as this many
        # deterministic rounds after every SEARCH_EVERY-th re-plan; 0: the fast path alone.
        self.search_rounds = search_rounds
        self.fast_objective = 0.0  # summed over searched re-plans: the fast path's objective
        self.search_won = 0.0  # and what the search won on it
        self.search_kept = 0  # rounds kept
        # Learned paces (balancer.paces): the sufficient statistics of every signed read per
        # (reader id, procedure group), as the live department keeps them, when `learn`.
        self.learn = learn
        self.histories: dict[tuple[int, str], PaceHistory] = {}
        self.paces: dict[int, dict[str, float]] = {}
        self._learned = 0  # reads in `histories` when `paces` was last fitted
        self.current: dict[int, Study] = {}  # waiting and open studies, as the planner sees them
        self.index = {s.id: k for k, s in enumerate(scn.studies)}
        self.worklists: list[deque[int]] = [deque() for _ in scn.roster]
        self.plan_ms: list[float] = []
        # Per roster reader: (shift start, wRVU signed since) as the live runner reads it.
        self.signed: list[tuple[float, float]] = [(float("nan"), 0.0) for _ in scn.roster]
        self.reader_of: dict[int, tuple[int, float]] = {}
        self.replans = 0  # re-plans on a signature within a minute (`freed`)
        # Per study index, where the re-plans put it (`Run.history`): kept when asked for.
        self.history: dict[int, list[Placed]] | None = None
        self._pace = {
            sr.reader.id: sr.reader.wrvu_per_hour for sr in scn.roster
        }  # open study -> (reader, shift start)

    def arrive(self, k: int, t: float) -> None:
        s = self.scn.studies[k]
        self.current[s.id] = s

    def tick(self, t: float, changed: bool, status: list[RadiologistStatus]) -> None:
        if not changed:
            return
        scn = self.scn
        now = scn.at(t)
        readers = []
        paces = self._fitted_paces()
        for r, (sr, st) in enumerate(zip(scn.roster, status, strict=True)):
            w = sr.window(t)
            readers.append(
                replace(
                    sr.reader,
                    paces=paces.get(sr.reader.id, {}),
                    status=st,
                    shift_start=scn.at(w.start) if w else None,
                    shift_end=scn.at(w.end) if w else None,
                    wrvu_read=self._signed(r, w.start) if w else 0.0,
                    minutes_on_duty=sr.minutes_on_duty(t),
                )
            )
        snap = Snapshot(now=now, studies=tuple(self.current.values()), radiologists=tuple(readers))
        params = self.params
        if self.adjust is not None:  # the rules, applied to what the planner sees
            snap, params = self.adjust(snap, params, scn.info)
            for s in snap.studies:
                self.view[self.index[s.id]] = s
        result = plan(snap, params)
        if self.search_rounds and len(self.plan_ms) % SEARCH_EVERY == 0:
            # As on the live leader: the event is re-planned at once by the fast path, and the
            # search starts from that plan as committed. (Searching from the snapshot's current
            # assignment instead skipped the event's touch-up and the waiting bound's repair
            # for that minute: an URGENT study then waited where the re-plan would have moved
            # it to a reader who had just freed up.)
            committed = replace(
                snap,
                studies=tuple(
                    replace(s, assigned_to=result.assignments[s.id].radiologist_id)
                    if s.id in result.assignments
                    else s
                    for s in snap.studies
                ),
            )
            searched = lns.improve_plan(
                committed,
                params,
                0.0,
                lns.Stop(),
                seed=len(self.plan_ms),
                round_limit_s=SEARCH_ROUND_DETERMINISTIC_S,
                max_rounds=self.search_rounds,
                deterministic=True,
            )
            duration_ms = result.duration_ms + searched.plan.duration_ms
            result = replace(searched.plan, duration_ms=duration_ms)
            self.fast_objective += searched.fast_total
            self.search_won += searched.fast_total - searched.total
            self.search_kept += searched.outcome.improvements
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
        if self.history is not None:
            self._record(int(t), result.unassignable)

    def _record(self, t: int, unassignable: Mapping[int, str]) -> None:
        """A history row for each waiting study whose reader or position changed (reader and
        position -1: on no worklist, the plan found it no reader)."""
        assert self.history is not None
        placed = [
            (r, pos, sid) for r, wl in enumerate(self.worklists) for pos, sid in enumerate(wl)
        ]
        for r, pos, sid in placed + [(-1, -1, sid) for sid in unassignable]:
            rows = self.history.setdefault(self.index[sid], [])
            if not rows or rows[-1][1:] != (r, pos):
                rows.append((t, r, pos))

    def freed(self, r: int, t: float, status: list[RadiologistStatus]) -> None:
        """Re-plan before the reader opens the next study when urgent work they may read waits
        on another worklist.

        The live runner re-plans on every signed report (`ReportSignedFinal` is a trigger)
        before the reader opens the head of the refreshed worklist; re-planning on each of the
        day's ~10,000 signatures is too slow for the simulator, so it re-plans only when the
        answer could hand this reader STAT or URGENT work sitting elsewhere (the rest waits
        for the next minute's re-plan, as before).
        """
        scn = self.scn
        # Minutes each reader is projected to need for the read they have open.
        busy: dict[int, float] = {}
        for s in self.current.values():
            if s.opened_by is not None and s.opened_at is not None:
                spent = (scn.at(t) - s.opened_at).total_seconds() / 60.0
                pace = self.params.reference_wrvu_per_hour / self._pace[s.opened_by]
                busy[s.opened_by] = remaining_read(s.read_minutes * pace, spent)
        for other, wl in enumerate(self.worklists):
            if other == r or busy.get(scn.roster[other].reader.id, 0.0) < SOONER_MINUTES:
                continue
            head = next(
                (
                    sid
                    for sid in wl
                    if self.current.get(sid) is not None and self.current[sid].opened_by is None
                ),
                None,
            )
            if head is None:
                continue
            k = self.index[head]
            if self.view[k].priority in URGENT_TIERS and self.may_read(k, r):
                self.replans += 1
                self.tick(t, True, status)
                return

    def next_for(self, r: int, t: float) -> int | None:
        wl = self.worklists[r]
        while wl:
            sid = wl.popleft()
            s = self.current.get(sid)
            if s is not None and s.opened_by is None:
                return self.index[sid]
        return None

    def _fitted_paces(self) -> dict[int, dict[str, float]]:
        """The learned paces, refitted when reads were signed since the last fit."""
        reads = sum(h.reads for h in self.histories.values())
        if self.learn and reads != self._learned:
            ref = self.params.reference_wrvu_per_hour
            inv_speed = {sr.reader.id: ref / sr.reader.wrvu_per_hour for sr in self.scn.roster}
            self.paces = learned_paces(self.histories, inv_speed)
            self._learned = reads
        return self.paces

    def _signed(self, r: int, shift_start: float) -> float:
        """wRVU reader `r` has signed since the shift that started at `shift_start`."""
        since, wrvu = self.signed[r]
        return wrvu if since == shift_start else 0.0

    def started(self, k: int, r: int, t: float) -> None:
        s = self.scn.studies[k]
        w = self.scn.roster[r].window(t)
        self.reader_of[k] = (r, w.start if w else float("nan"))
        self.current[s.id] = replace(
            self.current[s.id], opened_by=self.scn.roster[r].reader.id, opened_at=self.scn.at(t)
        )

    def finished(self, k: int) -> None:
        """The read of study `k` is signed: it leaves the balancer's view and counts toward the
        reader's wRVU of the shift."""
        self.current.pop(self.scn.studies[k].id, None)
        opened = self.reader_of.pop(k, None)
        if opened is None:
            return
        r, start = opened
        if self.learn:  # the opened -> signed minutes teach the reader's pace for the group
            study = self.scn.studies[k]
            key = (self.scn.roster[r].reader.id, study.procedure_group or "")
            seen = self.histories.get(key, PaceHistory())
            self.histories[key] = seen.add(self.scn.read_time(k, r), study.read_minutes)
        since, wrvu = self.signed[r]
        self.signed[r] = (start, (wrvu if since == start else 0.0) + self.scn.studies[k].wrvu)


def make(
    name: str,
    scn: Scenario,
    params: Params | None = None,
    adjust: Adjust | None = None,
    search_rounds: int = 0,
) -> Policy:
    """A policy by name; `adjust` applies the rules (see `_Shared` for the pull policies);
    `search_rounds` of neighbourhood search after each of radflow's re-plans."""
    if name == "fifo":
        return Fifo(scn, adjust)
    if name == "cherry_pick":
        return CherryPick(scn, adjust)
    if name == "least_loaded":
        return LeastLoaded(scn, adjust)
    if name == "radflow":
        return Radflow(scn, params or Params(), adjust, search_rounds)
    if name == "radflow_learned":  # radflow learning each reader's pace per procedure group
        return Radflow(scn, params or Params(), adjust, search_rounds, learn=True)
    raise ValueError(f"unknown policy {name!r}")


POLICIES = ("fifo", "cherry_pick", "least_loaded", "radflow")
