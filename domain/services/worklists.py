"""Worklists: reading shifts, radiologist status, supervisor pins, and committing a plan.

The balancer decides who reads what; this module is how its decisions, and the supervisors'
overrides, reach the database: one transaction per command, one event per changed study.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from domain import events as ev
from domain.enums import (
    ExamStatus,
    NotificationChannel,
    NotificationStatus,
    NotificationTemplate,
    Priority,
    RadiologistStatus,
    ReadSource,
    Role,
    Subspecialty,
)
from domain.errors import FieldIssue, IssueCode, NotFound, NotPermitted, ValidationFailed
from domain.lifecycle import Actor
from domain.models import (
    BalancerRun,
    Notification,
    Procedure,
    Radiologist,
    Read,
    Shift,
    Site,
)
from domain.repositories import ReaderStanding, UnitOfWork
from domain.services._common import Checks, find_by, load_exam
from domain.services.reading import RELEASE_ENDINGS, current_read
from domain.types import pk

MAX_SHIFT = timedelta(hours=24)
SUPERVISORS = {Role.SUPERVISOR, Role.ADMIN}


def _supervisor(actor: Actor) -> None:
    if actor.role not in SUPERVISORS | {Role.SYSTEM}:
        raise NotPermitted(f"role {actor.role.value} may not manage worklists")


def _radiologist(uow: UnitOfWork, code: str) -> Radiologist:
    return find_by(uow, Radiologist, "code", code, entity="radiologist", field="radiologist_code")


def _self_or_supervisor(actor: Actor, radiologist: Radiologist) -> None:
    if actor.role == Role.RADIOLOGIST and actor.id == radiologist.code:
        return
    _supervisor(actor)


def open_shift(uow: UnitOfWork, radiologist_id: int) -> Shift | None:
    """The radiologist's shift in progress, if any."""
    return uow.shifts.in_progress([radiologist_id], uow.now).get(radiologist_id)


def refusal(standing: ReaderStanding, subspecialty: Subspecialty, now: datetime) -> str | None:
    """Why this radiologist may not read a study of `subspecialty` now (at the site their
    standing was read for), or None when they may."""
    reader = standing.radiologist
    if not standing.credentialed:
        return f"{reader.code} holds no {subspecialty.value} credential"
    if not standing.privileged:
        return f"{reader.code} has no privilege for the exam's site"
    expires_on = standing.privilege_expires_on
    if expires_on is not None and expires_on < now.date():
        return f"{reader.code}'s privilege for the exam's site expired {expires_on}"
    if standing.shift_ends_at is None or standing.shift_ends_at <= now:
        return f"{reader.code} is not on shift"
    if reader.status != RadiologistStatus.AVAILABLE:
        return f"{reader.code} is {reader.status.value.lower().replace('_', ' ')}"
    return None


def pin_assignment(
    *, uow: UnitOfWork, actor: Actor, exam_id: int, radiologist_code: str, reason: str
) -> Read:
    """Supervisor override: put a ready study on a reader's worklist and keep it there."""
    checks = Checks()
    checks.text(reason, "reason", max_length=500)
    checks.done()
    _supervisor(actor)
    exam = load_exam(uow, exam_id)
    if exam.status != ExamStatus.READY_FOR_READ:
        raise ValidationFailed(
            [
                FieldIssue(
                    "exam_id",
                    IssueCode.NOT_READY_FOR_READ,
                    f"only unread READY_FOR_READ studies are assigned (is {exam.status})",
                )
            ]
        )
    procedure = uow.department.get(Procedure, exam.procedure_id)
    assert procedure is not None
    standing = uow.department.reader_standing(
        radiologist_code, subspecialty=procedure.subspecialty, site_id=exam.site_id, now=uow.now
    )
    if standing is None:
        raise NotFound("radiologist", radiologist_code, field="radiologist_code")
    refused = refusal(standing, procedure.subspecialty, uow.now)
    if refused:
        raise ValidationFailed([FieldIssue("radiologist_code", IssueCode.NOT_ELIGIBLE, refused)])
    radiologist = standing.radiologist
    read = _move(
        uow,
        actor,
        exam_id,
        pk(radiologist),
        reason=f"pinned: {reason}",
        source=ReadSource.SUPERVISOR,
        position=None,
    )
    read.pinned = True
    uow.emit(
        ev.AssignmentPinned(
            at=uow.now,
            actor=actor.id,
            role=actor.role,
            exam_id=exam_id,
            radiologist_id=pk(radiologist),
        )
    )
    return read


def unpin_assignment(*, uow: UnitOfWork, actor: Actor, exam_id: int) -> Read:
    """Release a pin; the balancer may move the study again."""
    _supervisor(actor)
    load_exam(uow, exam_id)
    read = current_read(uow, exam_id)
    if read is None or not read.pinned or read.opened_at is not None:
        raise ValidationFailed(
            [
                FieldIssue(
                    "exam_id", IssueCode.NOT_PINNED, "the study has no pin a supervisor can release"
                )
            ]
        )
    read.pinned = False
    uow.emit(ev.AssignmentUnpinned(at=uow.now, actor=actor.id, role=actor.role, exam_id=exam_id))
    return read


def _move(
    uow: UnitOfWork,
    actor: Actor,
    exam_id: int,
    radiologist_id: int | None,
    *,
    reason: str,
    source: ReadSource,
    position: int | None,
) -> Read:
    """End the current read (if any) and start one for `radiologist_id`; emits the change."""
    previous = current_read(uow, exam_id)
    if previous is not None and previous.radiologist_id == radiologist_id:
        previous.reason, previous.position = reason, position
        return previous
    if previous is not None:
        previous.ended_at, previous.end_reason = uow.now, "REASSIGNED"
        uow.flush()  # one current read per exam (a partial unique index)
    uow.emit(
        ev.AssignmentChanged(
            at=uow.now,
            actor=actor.id,
            role=actor.role,
            exam_id=exam_id,
            radiologist_id=radiologist_id,
            previous_radiologist_id=previous.radiologist_id if previous else None,
            reason=reason,
            source=source,
        )
    )
    if radiologist_id is None:
        assert previous is not None
        previous.end_reason = "UNASSIGNABLE"
        return previous
    read = Read(
        exam_id=exam_id,
        radiologist_id=radiologist_id,
        source=source,
        assigned_at=uow.now,
        assigned_by=actor.id,
        reason=reason,
        position=position,
    )
    uow.add(read)
    return read


def start_shift(
    *, uow: UnitOfWork, actor: Actor, radiologist_code: str, site_code: str, ends_at: datetime
) -> Shift:
    """A radiologist starts reading now, until `ends_at`; they become available."""
    radiologist = _radiologist(uow, radiologist_code)
    _self_or_supervisor(actor, radiologist)
    site = find_by(uow, Site, "code", site_code, entity="site", field="site_code")
    checks = Checks()
    checks.require(
        uow.now < ends_at <= uow.now + MAX_SHIFT,
        "ends_at",
        IssueCode.OUT_OF_RANGE,
        "must be in the future and within 24 hours",
    )
    checks.require(
        open_shift(uow, pk(radiologist)) is None,
        "radiologist_code",
        IssueCode.SHIFT_OPEN,
        f"{radiologist.code} is already on shift",
    )
    checks.done()
    shift = Shift(
        radiologist_id=pk(radiologist), site_id=pk(site), starts_at=uow.now, ends_at=ends_at
    )
    uow.add(shift)
    uow.flush()
    radiologist.status, radiologist.status_since = RadiologistStatus.AVAILABLE, uow.now
    uow.emit(
        ev.ShiftStarted(
            at=uow.now,
            actor=actor.id,
            role=actor.role,
            radiologist_id=pk(radiologist),
            shift_id=pk(shift),
        )
    )
    return shift


def end_shift(*, uow: UnitOfWork, actor: Actor, radiologist_code: str) -> Shift:
    """The shift ends now; unopened studies on the worklist go back to the balancer."""
    radiologist = _radiologist(uow, radiologist_code)
    _self_or_supervisor(actor, radiologist)
    shift = open_shift(uow, pk(radiologist))
    if shift is None:
        raise ValidationFailed(
            [
                FieldIssue(
                    "radiologist_code",
                    IssueCode.NO_OPEN_SHIFT,
                    f"{radiologist.code} is not on shift",
                )
            ]
        )
    shift.ended_at = uow.now
    radiologist.status, radiologist.status_since = RadiologistStatus.OFF, uow.now
    uow.emit(
        ev.ShiftEnded(
            at=uow.now,
            actor=actor.id,
            role=actor.role,
            radiologist_id=pk(radiologist),
            shift_id=pk(shift),
        )
    )
    _raise_stranded(uow, actor, radiologist, "went off shift")
    return shift


def set_radiologist_status(
    *, uow: UnitOfWork, actor: Actor, radiologist_code: str, status: RadiologistStatus
) -> Radiologist:
    """Available or on a break, during a shift (going off is `end_shift`)."""
    radiologist = _radiologist(uow, radiologist_code)
    _self_or_supervisor(actor, radiologist)
    if status == RadiologistStatus.OFF:
        raise ValidationFailed(
            [
                FieldIssue(
                    "status", IssueCode.USE_END_SHIFT, "going off duty ends the shift: use endShift"
                )
            ]
        )
    if open_shift(uow, pk(radiologist)) is None:
        raise ValidationFailed(
            [
                FieldIssue(
                    "radiologist_code",
                    IssueCode.NO_OPEN_SHIFT,
                    f"{radiologist.code} is not on shift",
                )
            ]
        )
    if radiologist.status != status:
        radiologist.status, radiologist.status_since = status, uow.now
        uow.emit(
            ev.RadiologistStatusChanged(
                at=uow.now,
                actor=actor.id,
                role=actor.role,
                radiologist_id=pk(radiologist),
                status=status,
            )
        )
        if status != RadiologistStatus.AVAILABLE:
            _raise_stranded(uow, actor, radiologist, "went on a break")
    return radiologist


def _raise_stranded(uow: UnitOfWork, actor: Actor, radiologist: Radiologist, what: str) -> None:
    """Tell the supervisors about each study the reader left open (`ReadStranded`)."""
    for exam_id in uow.reads.opened_by(pk(radiologist)):
        uow.emit(
            ev.ReadStranded(
                at=uow.now,
                actor=actor.id,
                role=actor.role,
                exam_id=exam_id,
                radiologist_id=pk(radiologist),
                reason=f"{radiologist.code} {what} with the study open",
            )
        )


def _board(summary: PlanSummary) -> list[dict[str, object]]:
    """The run's unassignable list as the board shows it: STAT first (they are on nobody's
    worklist and the supervisors act on them), then in the plan's order."""
    stat = Priority.STAT.value
    order = sorted(summary.unassignable, key=lambda k: summary.priorities.get(k) != stat)
    return [
        {"exam_id": k, "reason": summary.unassignable[k], "priority": summary.priorities.get(k)}
        for k in order
    ]


def _raise_stat_left_out(uow: UnitOfWork, summary: PlanSummary, exam_ids: list[int]) -> None:
    """Raise each STAT newly left without a reader: a `StatUnassigned` event and a call to the
    supervisors' line through the notification queue."""
    for exam_id in exam_ids:
        reason = summary.unassignable.get(exam_id, "")
        uow.emit(
            ev.StatUnassigned(
                at=uow.now, actor=BALANCER.id, role=BALANCER.role, exam_id=exam_id, reason=reason
            )
        )
        uow.append(
            Notification,
            {
                "exam_id": exam_id,
                "recipient_kind": "supervisor",
                "recipient_id": 0,
                "channel": NotificationChannel.PHONE,
                "template": NotificationTemplate.STAT_UNASSIGNED,
                "send_at": uow.now,
                "status": NotificationStatus.QUEUED,
                "created_at": uow.now,
                "payload": {"reason": reason[:500]},
            },
        )


def _move_many(
    uow: UnitOfWork, moves: list[tuple[int, int | None, str, int | None]], reads: Mapping[int, Read]
) -> None:
    """Move many studies at once: one UPDATE ends their reads, one INSERT starts the new ones.

    A plan can move hundreds of studies (a rule change, a shift ending); row-by-row ORM writes
    with a flush each would cost more than the solve.
    """
    if not moves:
        return
    holders = {
        exam_id: reads[exam_id].radiologist_id for exam_id, _, _, _ in moves if exam_id in reads
    }
    ending = [reads[exam_id] for exam_id in holders]
    if ending:
        unassignable = {e for e, r, _, _ in moves if r is None}
        uow.reads.end_many(ending, uow.now, unassignable)
    starting = [
        {
            "exam_id": exam_id,
            "radiologist_id": reader,
            "source": ReadSource.BALANCER,
            "assigned_at": uow.now,
            "assigned_by": BALANCER.id,
            "reason": reason[:500],
            "position": position,
            "pinned": False,
        }
        for exam_id, reader, reason, position in moves
        if reader is not None
    ]
    if starting:
        uow.reads.start_many(starting)
    for exam_id, reader, reason, _ in moves:
        uow.emit(
            ev.AssignmentChanged(
                at=uow.now,
                actor=BALANCER.id,
                role=BALANCER.role,
                exam_id=exam_id,
                radiologist_id=reader,
                previous_radiologist_id=holders.get(exam_id),
                reason=reason,
                source=ReadSource.BALANCER,
            )
        )


def _release_notes(uow: UnitOfWork, exam_ids: list[int]) -> dict[int, str]:
    """For studies whose last read was handed back or released: that read's note."""
    if not exam_ids:
        return {}
    last = uow.reads.last_endings(exam_ids)
    return {e: note or "release" for e, (ending, note) in last.items() if ending in RELEASE_ENDINGS}


@dataclass(frozen=True)
class PlannedRead:
    """The plan's place for one study, and who held it when the snapshot was taken."""

    exam_id: int
    radiologist_id: int
    position: int
    reason: str
    seen_radiologist_id: int | None


@dataclass(frozen=True)
class PlanOutcome:
    """What committing a plan changed, and what it had to leave because the world moved on."""

    run_id: int
    moved: int
    reordered: int
    stale: int
    unassigned: int


@dataclass(frozen=True)
class PlanSummary:
    """The run's log entry."""

    started_at: datetime
    duration_ms: float
    trigger: str
    formulation: str
    objective: Mapping[str, float]
    unassignable: Mapping[int, str] = field(default_factory=dict)
    # The effective priority (after rules) of each unassignable study: a STAT among them not
    # left out by the last run is raised to the supervisors.
    priorities: Mapping[int, str] = field(default_factory=dict)
    epoch: int | None = None  # the leadership epoch the plan is committed under
    leader: str | None = None  # the replica that committed it


BALANCER = Actor("balancer", Role.SYSTEM)


def apply_plan(
    *,
    uow: UnitOfWork,
    planned: Sequence[PlannedRead],
    unassignable_seen: Mapping[int, int | None],
    summary: PlanSummary,
) -> PlanOutcome:
    """Commit only the differences between the plan and the worklists, in one transaction.

    A study whose reader changed since the snapshot (opened, pinned, reassigned by someone
    else) or that is no longer waiting is left alone: the next run sees the new state.
    `unassignable_seen` maps each study the plan could not place to its reader at snapshot
    time; it comes off that worklist (it is listed in the run instead).
    """
    exam_ids = [p.exam_id for p in planned] + list(unassignable_seen)
    stat_left_out = sorted(
        k
        for k, p in summary.priorities.items()
        if p == Priority.STAT.value and k in summary.unassignable
    )
    if stat_left_out:
        before = uow.department.left_out_last_run()
        stat_left_out = [k for k in stat_left_out if k not in before]
    waiting = uow.exams.waiting_among(exam_ids)
    reads = uow.reads.current_for(exam_ids)
    reordered = stale = 0
    reordered_for: set[int] = set()
    moves: list[tuple[int, int | None, str, int | None]] = []  # exam, reader, reason, position
    for item in planned:
        current = reads.get(item.exam_id)
        holder = current.radiologist_id if current else None
        if (
            item.exam_id not in waiting
            or holder != item.seen_radiologist_id
            or (current is not None and current.opened_at is not None)
        ):
            stale += 1
            continue
        if current is not None and holder == item.radiologist_id:
            # The reason stays the one given when the study was placed; only order changes.
            if current.position != item.position:
                current.position = item.position
                reordered += 1
                reordered_for.add(item.radiologist_id)
            continue
        moves.append((item.exam_id, item.radiologist_id, item.reason, item.position))
    for exam_id, seen in unassignable_seen.items():
        current = reads.get(exam_id)
        if (
            current is not None
            and current.radiologist_id == seen
            and current.opened_at is None
            and exam_id in waiting
            and not current.pinned
        ):
            moves.append((exam_id, None, summary.unassignable.get(exam_id, ""), None))
    notes = _release_notes(
        uow, [e for e, reader, _, _ in moves if reader is not None and e not in reads]
    )
    if notes:  # a study given back: its next assignment says so, and why
        moves = [
            (e, reader, f"after {notes[e]}; {reason}"[:500] if e in notes else reason, p)
            for e, reader, reason, p in moves
        ]
    _move_many(uow, moves, reads)
    moved = sum(1 for _, reader, _, _ in moves if reader is not None)
    unassigned = len(moves) - moved
    run = BalancerRun(
        started_at=summary.started_at,
        duration_ms=round(summary.duration_ms, 2),
        trigger=summary.trigger[:200],
        formulation=summary.formulation[:64],
        objective={k: round(float(v), 3) for k, v in summary.objective.items()},
        unassignable=_board(summary),
        assigned=len(planned),
        moved=moved,
        epoch=summary.epoch,
        leader=summary.leader[:200] if summary.leader else None,
    )
    uow.add(run)
    uow.flush()
    _raise_stat_left_out(uow, summary, stat_left_out)
    if reordered_for:
        uow.emit(
            ev.WorklistReordered(
                at=uow.now,
                actor=BALANCER.id,
                role=BALANCER.role,
                radiologist_ids=tuple(sorted(reordered_for)),
            )
        )
    uow.emit(
        ev.BalancerRan(
            at=uow.now,
            actor=BALANCER.id,
            role=BALANCER.role,
            run_id=pk(run),
            duration_ms=run.duration_ms,
            moved=moved,
            assigned=len(planned),
            unassignable=len(summary.unassignable),
        )
    )
    return PlanOutcome(
        run_id=pk(run), moved=moved, reordered=reordered, stale=stale, unassigned=unassigned
    )
