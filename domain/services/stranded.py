"""Open reads of absent readers: listed for the supervisors, urgent ones released after a grace.

A study a radiologist has opened is never moved by the balancer. When that radiologist goes off
shift, on a break, or stays past the end of their shift with it open, the study is stranded:
`stranded_reads` lists it (the supervisors see it in `balancerStatus`, and a `ReadStranded`
event was raised when the reader left), and `release_stranded`, run by the balancer's leader
on every run and tick, gives an open STAT or URGENT study back to the balancer once its reader
has been away longer than the grace. Routine studies wait for a supervisor's `releaseRead`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from domain.enums import Priority, RadiologistStatus
from domain.repositories import Reads, Shifts, UnitOfWork
from domain.services._common import load_exam
from domain.services.reading import RELEASED, current_read, release
from domain.services.worklists import BALANCER
from domain.sql_repositories import SqlReads, SqlShifts

# The priorities whose open read is released by itself once its reader has been away too long.
RELEASED_BY_ITSELF = frozenset({Priority.STAT, Priority.URGENT})


@dataclass(frozen=True)
class StrandedRead:
    """An opened study whose reader is away, since when, and when it is released by itself
    (None: it waits for a supervisor)."""

    exam_id: int
    radiologist_id: int
    radiologist_code: str
    priority: Priority
    opened_at: datetime
    absent: str
    absent_since: datetime
    release_due_at: datetime | None


def stranded_reads(session: Session, now: datetime, grace: timedelta) -> list[StrandedRead]:
    """Every opened read whose reader is off shift, on a break or past their shift's end."""
    return _stranded(SqlReads(session), SqlShifts(session), now, grace)


def _stranded(reads: Reads, shifts: Shifts, now: datetime, grace: timedelta) -> list[StrandedRead]:
    rows = reads.opened_in_interpretation()
    if not rows:
        return []
    readers = sorted({int(reader.id or 0) for _, _, reader in rows})
    on_shift = shifts.in_progress(readers, now)
    last_ended = shifts.last_ended(readers)
    stranded = []
    for read, priority, reader in rows:
        rid = int(reader.id or 0)
        shift = on_shift.get(rid)
        since: datetime | None
        if shift is None:
            absent = "off shift"
            since = (
                reader.status_since if reader.status != RadiologistStatus.AVAILABLE else None
            ) or last_ended.get(rid)
        elif shift.ends_at <= now:
            absent, since = "past the end of the shift", shift.ends_at
        elif reader.status != RadiologistStatus.AVAILABLE:
            absent, since = reader.status.value.lower().replace("_", " "), reader.status_since
        else:
            continue
        assert read.opened_at is not None
        # Stranded from when both hold: the study open and its reader away.
        since = max(since or read.opened_at, read.opened_at)
        stranded.append(
            StrandedRead(
                exam_id=read.exam_id,
                radiologist_id=rid,
                radiologist_code=reader.code,
                priority=priority,
                opened_at=read.opened_at,
                absent=absent,
                absent_since=since,
                release_due_at=since + grace if priority in RELEASED_BY_ITSELF else None,
            )
        )
    return stranded


def release_stranded(*, uow: UnitOfWork, grace: timedelta) -> list[int]:
    """Release every open STAT/URGENT read whose reader has been away longer than `grace`;
    the exam ids released (each with its `ReadReleased` event and the reason on its read)."""
    released = []
    for item in _stranded(uow.reads, uow.shifts, uow.now, grace):
        if item.release_due_at is None or item.release_due_at > uow.now:
            continue
        exam = load_exam(uow, item.exam_id)
        read = current_read(uow, item.exam_id)
        assert read is not None
        minutes = round(grace.total_seconds() / 60, 1)
        note = (
            f"released by itself: {item.radiologist_code} {item.absent} since "
            f"{item.absent_since:%H:%M} UTC with this {item.priority.value} study open, "
            f"past the {minutes:g} min grace"
        )
        release(uow=uow, actor=BALANCER, exam=exam, read=read, ending=RELEASED, note=note)
        released.append(item.exam_id)
    return released
