"""Releasing the open reads of absent readers, on the in-memory unit of work."""

from __future__ import annotations

from datetime import timedelta

from domain import events as ev
from domain.enums import ExamStatus, Priority, RadiologistStatus, ReadSource
from domain.models import Read, Shift
from domain.services import stranded
from tests.unit.services.conftest import NOW, Department

GRACE = timedelta(minutes=15)


def opened(department: Department, priority: Priority) -> tuple[int, Read]:
    exam = department.exam(ExamStatus.IN_INTERPRETATION, priority=priority)
    read = Read(
        exam_id=exam.id or 0,
        radiologist_id=department.reader.id or 0,
        source=ReadSource.BALANCER,
        assigned_at=NOW - timedelta(hours=1),
        assigned_by="balancer",
        reason="plan",
        opened_at=NOW - timedelta(minutes=50),
        pinned=True,
    )
    department.uow.seed(read)
    return exam.id or 0, read


def test_an_absent_readers_stat_study_is_released_after_the_grace_and_a_routine_one_waits(
    department: Department,
) -> None:
    uow = department.uow
    stat_exam, stat_read = opened(department, Priority.STAT)
    routine_exam, routine_read = opened(department, Priority.ROUTINE)
    (shift,) = uow.rows.all(Shift)
    shift.ended_at = NOW - timedelta(minutes=30)  # went home with both open
    department.reader.status = RadiologistStatus.OFF

    released = stranded.release_stranded(uow=uow, grace=GRACE)

    assert released == [stat_exam]
    assert stat_read.ended_at == NOW and stat_read.end_reason == "RELEASED"
    assert routine_read.ended_at is None
    assert uow.exams.get(stat_exam).status == ExamStatus.READY_FOR_READ  # type: ignore[union-attr]
    assert [e.exam_id for e in uow.events_of(ev.ExamStatusChanged)] == [stat_exam]  # type: ignore[attr-defined]
    assert routine_exam not in released


def test_nothing_is_released_while_the_reader_is_on_shift_and_available(
    department: Department,
) -> None:
    opened(department, Priority.STAT)
    department.reader.status = RadiologistStatus.AVAILABLE

    assert stranded.release_stranded(uow=department.uow, grace=GRACE) == []
