"""The balancer in the running app: read a snapshot, solve off the event loop, commit the diff.

`BalancerRunner` re-plans whenever an event that matters commits (a study becomes ready, a read
is opened or finished, a shift starts or ends, a status changes, a pin is set or released) and
on a periodic tick for deadlines that approach. Bursts coalesce into one run; runs never
overlap; the solve runs on a worker thread (the planner is NumPy and OR-Tools, which release
the GIL for their heavy parts) so the event loop keeps serving requests; only the differences
are committed, in one transaction, with one `AssignmentChanged` event per moved study.

With several replicas only the elected one runs (`application.planning.leadership`): its
commits are fenced by the epoch it was elected with, and it also re-plans for trigger events
committed on other replicas (`notice`, fed by the live event stream).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlmodel import col

from application.planning.leadership import Deposed, Leadership, check_epoch
from application.planning.paces import reader_paces
from balancer import lns
from balancer.assignments import placements
from balancer.model import Params, Plan, Radiologist, Snapshot, Study
from balancer.planner import Planner
from balancer.validate import validate
from domain import events as ev
from domain.db import Database, UnitOfWork
from domain.enums import ExamStatus, RadiologistStatus, Subspecialty
from domain.models import (
    Exam,
    OutboxEvent,
    Procedure,
    RadiologistSubspecialty,
    Read,
    Shift,
    SitePrivilege,
)
from domain.models import (
    Radiologist as RadiologistRow,
)
from domain.paces import procedure_group
from domain.services.reading import HANDED_BACK
from domain.services.stranded import release_stranded
from domain.services.worklists import PlannedRead, PlanOutcome, PlanSummary, apply_plan

log = logging.getLogger("radflow.balancer")

# The domain events after which the plan may be out of date.
TRIGGERS: tuple[type[ev.DomainEvent], ...] = (
    ev.StudyReadyForRead,
    ev.ReadOpened,
    ev.ReadReleased,
    ev.ReportSignedFinal,
    ev.ExamCancelled,
    ev.ShiftStarted,
    ev.ShiftEnded,
    ev.RadiologistStatusChanged,
    ev.AssignmentPinned,
    ev.AssignmentUnpinned,
    ev.RuleSetActivated,
    ev.AiTriagePosted,
    ev.OrderChanged,  # a priority (or procedure) changed by the order source: the order moves
)
TRIGGER_NAMES = frozenset(t.__name__ for t in TRIGGERS)
MAX_PENDING_REASONS = 20


@dataclass(frozen=True)
class DepartmentState:
    """A snapshot plus, per study, who held it when the snapshot was read."""

    snapshot: Snapshot
    holders: dict[int, int | None]


def read_state(session: Session, now: datetime) -> DepartmentState:
    """The balancer's view of the department at `now`, from the database."""
    rows = session.execute(
        sa.select(
            col(Exam.id),
            col(Exam.status),
            col(Exam.site_id),
            col(Exam.priority),
            col(Exam.patient_class),
            col(Exam.ready_at),
            col(Exam.due_at),
            col(Exam.patient_id),
            col(Procedure.subspecialty),
            col(Procedure.wrvu),
            col(Procedure.read_minutes),
            col(Procedure.modality),
            col(Read.radiologist_id),
            col(Read.pinned),
            col(Read.opened_at),
        )
        .join(Procedure, col(Procedure.id) == col(Exam.procedure_id))
        .outerjoin(Read, (col(Read.exam_id) == col(Exam.id)) & col(Read.ended_at).is_(None))
        .where(col(Exam.status).in_([ExamStatus.READY_FOR_READ, ExamStatus.IN_INTERPRETATION]))
    ).all()
    studies: list[Study] = []
    holders: dict[int, int | None] = {}
    for (
        row_id,
        status,
        site_id,
        priority,
        patient_class,
        ready_at,
        due_at,
        patient_id,
        subspecialty,
        wrvu,
        read_minutes,
        modality,
        reader,
        pinned,
        opened_at,
    ) in rows:
        exam_id = int(row_id or 0)  # a primary key: never NULL
        opened = status == ExamStatus.IN_INTERPRETATION
        if opened and reader is None:
            continue  # opened outside any read (legacy data): nothing to balance
        studies.append(
            Study(
                id=exam_id,
                subspecialty=subspecialty,
                site_id=site_id,
                priority=priority,
                patient_class=patient_class,
                wrvu=wrvu,
                read_minutes=float(read_minutes),
                ready_at=ready_at or now,
                due_at=due_at or now,
                assigned_to=None if opened else reader,
                opened_by=reader if opened else None,
                opened_at=opened_at if opened else None,
                pinned_to=reader if pinned and not opened else None,
                patient_id=patient_id,
                procedure_group=procedure_group(modality),
            )
        )
        if not opened:
            holders[exam_id] = reader
    handed_back = _handed_back(
        session, [s.id for s in studies if s.assigned_to is None and s.opened_by is None]
    )
    if handed_back:  # a reader who handed a study back is not given it again
        studies = [
            replace(s, excluded_radiologists=s.excluded_radiologists | {handed_back[s.id]})
            if s.id in handed_back
            else s
            for s in studies
        ]
    return DepartmentState(
        Snapshot(now=now, studies=tuple(studies), radiologists=_readers(session, now)), holders
    )


def _handed_back(session: Session, exam_ids: list[int]) -> dict[int, int]:
    """For unplaced studies whose last read its reader handed back: that reader."""
    if not exam_ids:
        return {}
    last: dict[int, tuple[int, str | None]] = {}
    for exam_id, reader, ending in session.execute(
        sa.select(col(Read.exam_id), col(Read.radiologist_id), col(Read.end_reason))
        .where(col(Read.exam_id).in_(exam_ids), col(Read.ended_at).is_not(None))
        .order_by(col(Read.id))
    ):
        last[exam_id] = (reader, ending)
    return {e: reader for e, (reader, ending) in last.items() if ending == HANDED_BACK}


def _readers(session: Session, now: datetime) -> tuple[Radiologist, ...]:
    credentials: dict[int, set[Subspecialty]] = defaultdict(set)
    for rid, sub in session.execute(
        sa.select(
            col(RadiologistSubspecialty.radiologist_id), col(RadiologistSubspecialty.subspecialty)
        )
    ):
        credentials[rid].add(sub)
    privileges: dict[int, set[int]] = defaultdict(set)
    for rid, site, expires in session.execute(
        sa.select(
            col(SitePrivilege.radiologist_id),
            col(SitePrivilege.site_id),
            col(SitePrivilege.expires_on),
        )
    ):
        if expires is None or expires >= now.date():
            privileges[rid].add(site)
    shifts = {
        s.radiologist_id: s
        for s in session.scalars(
            sa.select(Shift).where(col(Shift.ended_at).is_(None), col(Shift.starts_at) <= now)
        )
    }
    signed = _signed_this_shift(session, now)
    paces = reader_paces(session)
    readers = []
    for row in session.scalars(sa.select(RadiologistRow).order_by(col(RadiologistRow.id))):
        shift = shifts.get(row.id or 0)
        readers.append(
            Radiologist(
                id=row.id or 0,
                subspecialties=frozenset(credentials[row.id or 0]),
                site_privileges=frozenset(privileges[row.id or 0]),
                status=row.status if shift else RadiologistStatus.OFF,
                shift_start=shift.starts_at if shift else None,
                shift_end=shift.ends_at if shift else None,
                wrvu_per_hour=row.wrvu_per_hour,
                wrvu_read=signed.get(row.id or 0, 0.0) if shift else 0.0,
                # Breaks are not recorded; every reader has about the same, so it evens out.
                minutes_on_duty=max(0.0, (now - shift.starts_at).total_seconds() / 60.0)
                if shift
                else 0.0,
                # What a subspecialist is best used on: their credentials beyond GENERAL (the
                # preference term prices the rest once a weight rule turns it on).
                preferred_subspecialties=frozenset(credentials[row.id or 0])
                - {Subspecialty.GENERAL},
                paces=paces.get(row.id or 0, {}),
            )
        )
    return tuple(readers)


def _signed_this_shift(session: Session, now: datetime) -> dict[int, float]:
    """Per radiologist on shift, the wRVU of the reads they signed since their shift started.

    The fairness term balances this against the capacity the reader has had (DOMAIN.md: no
    cherry-picking); it comes from finished reads, so no column keeps a running total.
    """
    rows = session.execute(
        sa.select(col(Read.radiologist_id), sa.func.sum(col(Procedure.wrvu)))
        .join(Exam, col(Exam.id) == col(Read.exam_id))
        .join(Procedure, col(Procedure.id) == col(Exam.procedure_id))
        .join(
            Shift,
            (col(Shift.radiologist_id) == col(Read.radiologist_id))
            & col(Shift.ended_at).is_(None)
            & (col(Shift.starts_at) <= now)
            & (col(Read.ended_at) >= col(Shift.starts_at)),
        )
        .where(col(Read.end_reason) == "REPORTED", col(Read.ended_at) <= now)
        .group_by(col(Read.radiologist_id))
    ).all()
    return {int(rid): float(total or 0.0) for rid, total in rows}


Unplaced = dict[int, int | None]


def changes(state: DepartmentState, result: Plan) -> tuple[list[PlannedRead], Unplaced]:
    """The plan as per-study placements plus the studies it had to leave unplaced.

    A study the plan leaves with the reader who held it keeps the reason it was placed with
    (`apply_plan` only reorders it), so only the studies changing reader are explained: at
    network scale that is the difference between a few reasons and twenty thousand.
    """
    holders = state.holders
    planned = [
        PlannedRead(
            exam_id=sid,
            radiologist_id=rid,
            position=position,
            reason=result.assignments[sid].reason[:500] if rid != holders[sid] else "",
            seen_radiologist_id=holders[sid],
        )
        for sid, rid, position in placements(result.assignments)
        if sid in holders
    ]
    unplaced = {sid: state.holders[sid] for sid in result.unassignable if sid in state.holders}
    return planned, unplaced


# In the running department a large re-plan (a rule change, a shift change) gets a feasible
# plan at once and at most 0.4 s of improvement, so new assignments land within a second;
# small re-plans (most events) take the 80 ms incremental path.
LIVE_PARAMS = Params(cold_time_limit_s=0.4)

# Applies policy (the active rules) to a snapshot and the solver's parameters.
Adjust = Callable[[Session, datetime, DepartmentState, Params], tuple[DepartmentState, Params]]


@dataclass(frozen=True)
class RunReport:
    """One run as the API reports it."""

    outcome: PlanOutcome
    plan: Plan
    trigger: str
    epoch: int | None = None


@dataclass(frozen=True)
class SearchPolicy:
    """How the leader searches between events (`balancer.lns`): `seconds` of neighbourhood
    rounds per cycle, each round's solve at most `round_seconds`, a cycle once the department
    has been quiet `quiet_seconds` (no run), and after a cycle that won nothing, none until
    `idle_seconds` have passed or an event re-plans."""

    seconds: float = 1.0
    round_seconds: float = 0.3
    quiet_seconds: float = 2.0
    idle_seconds: float = 30.0
    workers: int = 1


@dataclass
class SearchStats:
    """What the search has done on this runner since it started (balancerStatus.search)."""

    cycles: int = 0
    rounds: int = 0
    improvements: int = 0  # cycles whose plan was committed
    won: float = 0.0  # objective won by the committed cycles, minutes-equivalent
    yielded: int = 0  # cycles stopped by an event, which then re-planned at once
    fenced: int = 0  # committed plans refused: a newer leader was elected
    last_at: datetime | None = None
    kinds: dict[str, int] = field(default_factory=dict)  # kept rounds by neighbourhood kind


# Called after each run with its wall time in seconds and how it ended: committed, fenced
# (refused: a newer leader was elected) or failed.
RunObserver = Callable[[float, str], None]


class BalancerRunner:
    """Keeps every unread study on the right worklist as the department changes."""

    def __init__(
        self,
        db: Database,
        *,
        params: Callable[[], Params] = lambda: LIVE_PARAMS,
        adjust: Adjust | None = None,
        tick_seconds: float = 30.0,
        debounce_seconds: float = 0.02,
        leadership: Leadership | None = None,
        release_grace: timedelta | None = None,
        search: SearchPolicy | None = None,
    ) -> None:
        self.db = db
        # None: no search between events (tests that count runs, single-purpose tools).
        self.search = search
        self.search_stats = SearchStats()
        self._search_stop: lns.Stop | None = None
        # Kept between runs (on the one solver thread): a run compiles only what changed.
        self._planner = Planner()
        self._quiet_since = time.monotonic()
        self._fruitless_until = 0.0
        # How long an open STAT/URGENT read may wait for an absent reader before the leader
        # releases it (None: never by itself; see domain.services.stranded).
        self.release_grace = release_grace
        self._stranded_checked: datetime | None = None  # the department's time of the last look
        # None: this runner always leads, unfenced (tests, single-purpose tools).
        self.leadership = leadership
        self.observers: list[RunObserver] = []
        # The newest outbox event id the last snapshot was read after (see `notice`).
        self._seen_through = 0
        self.params = params
        self.adjust = adjust
        self.tick_seconds = tick_seconds
        self.debounce_seconds = debounce_seconds
        self.last: RunReport | None = None
        self._reasons: list[str] = []
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        # One worker: a solve never overlaps another, and the loop never waits on one.
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="radflow-balancer")
        self._stopping = False
        self._commit_gate = os.environ.get(COMMIT_GATE_ENV) or None
        db.on_commit(self._on_commit)
        if leadership is not None:
            leadership.on_elected(lambda epoch: self.request(f"elected (epoch {epoch})"))

    @property
    def leading(self) -> bool:
        """Whether this runner re-plans on its own now (it leads, or needs no election)."""
        return self.leadership is None or self.leadership.leading

    @property
    def searching(self) -> bool:
        """Whether a search cycle is running now."""
        return self._search_stop is not None

    def start(self) -> None:
        """Begin listening and ticking (call from the running event loop)."""
        self._task = asyncio.get_running_loop().create_task(self._loop())
        self.request("start")

    def request(self, reason: str) -> None:
        """Ask for a re-plan soon; requests that arrive together are served by one run."""
        self._reasons.append(reason)
        self._wake.set()
        stop = self._search_stop
        if stop is not None:  # an event: the search yields at once, the re-plan runs
            stop.set()

    def _on_commit(self, events: Sequence[ev.DomainEvent]) -> None:
        wanted = [e.event_type for e in events if isinstance(e, TRIGGERS)]
        if wanted and not self._stopping:
            self.request(", ".join(dict.fromkeys(wanted)))

    def notice(self, event_id: int, event_type: str) -> None:
        """A committed event seen on the live stream (committed here or on another replica):
        re-plan if it is a trigger the last snapshot did not already include."""
        if (
            event_type in TRIGGER_NAMES
            and event_id > self._seen_through
            and not self._stopping
            and self.leading
        ):
            self.request(event_type)

    async def _loop(self) -> None:
        next_tick = time.monotonic() + self.tick_seconds
        while not self._stopping:
            if not self._wake.is_set():  # (a zero timeout would not see it set)
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout=self._wait(next_tick))
                except TimeoutError:
                    if time.monotonic() < next_tick:  # woken for the search, not the tick
                        await self._search_between_events()
                        continue
                    self._reasons.append("tick")
            next_tick = time.monotonic() + self.tick_seconds
            await asyncio.sleep(self.debounce_seconds)  # let a burst finish committing
            self._wake.clear()
            if not self.leading:
                # A follower: the leader re-plans. The reasons wait (deduplicated, a few) to
                # be named by the first run once this replica is elected.
                self._reasons = list(dict.fromkeys(self._reasons))[-MAX_PENDING_REASONS:]
                continue
            await self._release_stranded()  # before the reasons are taken: they name this run
            reasons, self._reasons = self._reasons, []
            try:
                await self.run_once("; ".join(dict.fromkeys(reasons)) or "tick")
            except Exception:  # the runner must outlive one bad run; the log says why
                log.exception("balancer run failed")

    def _wait(self, next_tick: float) -> float:
        """Seconds to wait for an event: until the tick, or the next search cycle if sooner."""
        now = time.monotonic()
        until = next_tick
        if self.search is not None and self.leading and self.last is not None:
            due = max(self._quiet_since + self.search.quiet_seconds, self._fruitless_until)
            until = min(until, due)
        return max(0.0, until - now)

    async def _search_between_events(self) -> None:
        try:
            await self.search_once()
        except Deposed:
            self.search_stats.fenced += 1
        except Exception:  # the runner must outlive one bad cycle; the log says why
            log.exception("balancer search failed")
            self._fruitless_until = time.monotonic() + (
                self.search.idle_seconds if self.search else 0.0
            )

    async def search_once(self) -> RunReport | None:
        """One cycle of the neighbourhood search on the current plan; its plan is committed
        (diff, fencing, events: as every run) when the search won something, and dropped when
        an event arrived meanwhile (the event's re-plan follows at once). None: not committed.

        Raises `Deposed` when a newer leader was elected before the commit (nothing written).
        """
        policy = self.search or SearchPolicy()
        epoch = self.leadership.epoch if self.leadership is not None else None
        if self.leadership is not None and epoch is None:
            return None  # not leading: the leader searches
        stats = self.search_stats
        async with self._lock:
            stop = lns.Stop()
            self._search_stop = stop
            try:
                if self._task is not None and self._wake.is_set():
                    return None  # an event is waiting: the loop re-plans it first
                now = self.db.clock()
                state, params, seen = await self.db.read(lambda s: self._state(s, now))
                self._seen_through = max(self._seen_through, seen)
                started = time.perf_counter()
                searched = await asyncio.get_running_loop().run_in_executor(
                    self._pool,
                    partial(
                        lns.improve_plan,
                        state.snapshot,
                        params,
                        policy.seconds,
                        stop,
                        seed=stats.cycles,
                        round_limit_s=policy.round_seconds,
                        workers=policy.workers,
                    ),
                )
            finally:
                self._search_stop = None
            outcome = searched.outcome
            stats.cycles += 1
            stats.rounds += outcome.rounds
            stats.last_at = now
            if stop.is_set():
                stats.yielded += 1
                return None
            if not outcome.improvements:
                self._fruitless_until = time.monotonic() + policy.idle_seconds
                return None
            result = searched.plan
            violations = validate(state.snapshot, result)
            if violations:  # a bug, never a department state: refuse to commit it
                raise RuntimeError(f"invalid plan: {violations[:3]}")
            planned, unplaced = changes(state, result)
            summary = PlanSummary(
                started_at=now,
                duration_ms=(time.perf_counter() - started) * 1000,
                trigger=(
                    f"search: {outcome.improvements} of {outcome.rounds} rounds won "
                    f"{outcome.won:.2f}"
                ),
                formulation=result.formulation,
                objective=result.objective,
                unassignable=dict(result.unassignable),
                epoch=epoch,
                leader=self.leadership.replica if self.leadership is not None else None,
            )
            lease = self.leadership.lease_seconds if self.leadership is not None else None
            try:
                committed = await self.db.run(
                    lambda uow: _commit(
                        uow,
                        planned,
                        unplaced,
                        summary,
                        fence=epoch,
                        lease_seconds=lease,
                        gate=self._commit_gate,
                    )
                )
            except Deposed:
                if self.leadership is not None and epoch is not None:
                    self.leadership.step_down(epoch)
                raise
            stats.improvements += 1
            stats.won += outcome.won
            for kind, count in outcome.kinds.items():
                stats.kinds[kind] = stats.kinds.get(kind, 0) + count
            self.last = RunReport(
                outcome=committed, plan=result, trigger=summary.trigger, epoch=epoch
            )
            return self.last

    async def _release_stranded(self) -> None:
        grace, now = self.release_grace, self.db.clock()
        if grace is None or (
            self._stranded_checked is not None
            and now - self._stranded_checked < timedelta(seconds=self.tick_seconds)
        ):
            return  # once a tick is enough for a grace of minutes; runs stay as fast as before
        self._stranded_checked = now
        try:
            released = await self.db.run(lambda uow: release_stranded(uow=uow, grace=grace))
        except Exception:  # e.g. a reader acted on the study meanwhile: the next run retries
            log.exception("releasing stranded reads failed")
            return
        if released:
            log.info("released %d stranded reads of absent readers: %s", len(released), released)

    async def run_once(self, trigger: str) -> RunReport:
        """Read, solve off the loop, validate, commit the diff; one run at a time.

        Raises `NotLeader` on a replica that does not lead while another one does, and
        `Deposed` when a newer leader was elected before the commit (nothing is written)."""
        if self.leadership is None:
            return await self._observed(trigger, None)
        epoch = self.leadership.epoch
        if epoch is not None:  # leading
            return await self._observed(trigger, epoch)
        async with self.leadership.lead_once() as epoch:
            return await self._observed(trigger, epoch)

    async def _observed(self, trigger: str, epoch: int | None) -> RunReport:
        started = time.perf_counter()
        outcome = "failed"
        try:
            report = await self._run(trigger, epoch)
            outcome = "committed"
            return report
        except Deposed:
            outcome = "fenced"
            if self.leadership is not None and epoch is not None:
                self.leadership.step_down(epoch)
            raise
        finally:
            seconds = time.perf_counter() - started
            for observe in self.observers:
                observe(seconds, outcome)

    async def _run(self, trigger: str, epoch: int | None) -> RunReport:
        async with self._lock:
            now = self.db.clock()
            state, params, seen = await self.db.read(lambda s: self._state(s, now))
            self._seen_through = max(self._seen_through, seen)
            loop = asyncio.get_running_loop()
            started = time.perf_counter()
            result = await loop.run_in_executor(
                self._pool, self._planner.plan, state.snapshot, params
            )
            violations = validate(state.snapshot, result)
            if violations:  # a bug, never a department state: refuse to commit it
                raise RuntimeError(f"invalid plan: {violations[:3]}")
            planned, unplaced = changes(state, result)
            summary = PlanSummary(
                started_at=now,
                duration_ms=(time.perf_counter() - started) * 1000,
                trigger=trigger,
                formulation=result.formulation,
                objective=result.objective,
                unassignable=dict(result.unassignable),
                priorities={
                    s.id: s.priority.value
                    for s in state.snapshot.studies
                    if s.id in result.unassignable
                },
                epoch=epoch,
                leader=self.leadership.replica if self.leadership is not None else None,
            )
            lease = self.leadership.lease_seconds if self.leadership is not None else None
            outcome = await self.db.run(
                lambda uow: _commit(
                    uow,
                    planned,
                    unplaced,
                    summary,
                    fence=epoch,
                    lease_seconds=lease,
                    gate=self._commit_gate,
                )
            )
            self.last = RunReport(outcome=outcome, plan=result, trigger=trigger, epoch=epoch)
            self._quiet_since = time.monotonic()
            self._fruitless_until = 0.0  # the plan changed: worth searching again
            return self.last

    def _state(self, session: Session, now: datetime) -> tuple[DepartmentState, Params, int]:
        # Read first: every event up to this id committed before the snapshot below was read
        # (outbox ids commit in order), so its changes are in it and `notice` can skip it.
        seen = session.scalar(sa.select(sa.func.max(col(OutboxEvent.id)))) or 0
        state, params = read_state(session, now), self.params()
        if self.adjust is not None:  # the supervisors' rules, applied to the snapshot
            state, params = self.adjust(session, now, state, params)
        return state, params, int(seen)

    async def stop(self) -> None:
        """Stop ticking and listening; a solve in flight finishes within its time bound."""
        self._stopping = True
        if self._search_stop is not None:
            self._search_stop.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._pool.shutdown(wait=True, cancel_futures=True)


def _commit(
    uow: UnitOfWork,
    planned: list[PlannedRead],
    unplaced: dict[int, int | None],
    summary: PlanSummary,
    *,
    fence: int | None,
    lease_seconds: float | None = None,
    gate: str | None = None,
) -> PlanOutcome:
    if fence is not None:  # first: the share lock holds off any election until we commit
        check_epoch(uow.session, fence, lease_seconds=lease_seconds)
    if gate:
        _hold_at_gate(Path(gate))
    return apply_plan(uow=uow, planned=planned, unassignable_seen=unplaced, summary=summary)


# Test-only: a folder. When a file `armed` is in it as a plan commit reaches this point (the
# epoch checked, its share lock held, nothing written yet), the commit renames it `held` and
# waits, the whole process with it, until a file `released` appears: a leader stalled
# mid-commit, deterministically (tests/replicas/test_lease.py).
COMMIT_GATE_ENV = "RADFLOW_TEST_COMMIT_GATE"


def _hold_at_gate(folder: Path) -> None:
    try:
        (folder / "armed").rename(folder / "held")
    except FileNotFoundError:
        return
    deadline = time.monotonic() + 300
    while not (folder / "released").exists() and time.monotonic() < deadline:
        time.sleep(0.01)  # blocks the event loop on purpose: the process is stalled


def with_weights(params: Params, **weights: float) -> Params:
    """`params` with some objective weights changed (rules use this)."""
    return replace(params, weights=params.weights.replace(**weights))
