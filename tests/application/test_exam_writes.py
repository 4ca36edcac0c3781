"""A command's change to its exam is written by one versioned Core UPDATE (the unit of work's
`write_held_exams`), not by the ORM's flush: the same guard against lost updates must hold."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa

from application.commands import Commands
from domain.db import Database, UnitOfWork
from domain.enums import ExamStatus
from domain.errors import Conflict, InvalidTransition
from domain.lifecycle import Actor
from domain.models import Exam, ExamStatusChange
from domain.services import scheduling
from domain.tables import EXAMS
from tests.factories import SCHEDULER, current, drive, order, reference


def check_in(uow: UnitOfWork, actor: Actor, pk: int) -> object:
    return scheduling.check_in(uow=uow, actor=actor, exam_id=pk)


async def booked(db: Database) -> Exam:
    """An exam booked for tomorrow, with the clock moved to its day."""
    await reference(db)
    exam = await drive(db, await order(db), ExamStatus.SCHEDULED)
    db.clock.advance(days=1)  # type: ignore[attr-defined]
    return exam


def history_to(db: Database, exam_id: int, status: ExamStatus):  # type: ignore[no-untyped-def]
    return db.read(
        lambda s: s.scalar(
            sa.select(sa.func.count())
            .select_from(ExamStatusChange)
            .where(ExamStatusChange.exam_id == exam_id, ExamStatusChange.to_status == status)
        )
    )


async def test_a_command_bumps_the_version_once_and_answers_with_the_row_it_wrote(
    db: Database,
) -> None:
    exam = await booked(db)
    assert exam.id is not None
    _, row = await Commands(db, SCHEDULER).on_exam("checkIn", exam.id, check_in)
    stored = await current(db, exam.id)
    assert (row.status, row.version) == (ExamStatus.CHECKED_IN, exam.version + 1)
    assert (stored.status, stored.version) == (ExamStatus.CHECKED_IN, exam.version + 1)
    assert await history_to(db, exam.id, ExamStatus.CHECKED_IN) == 1


async def test_an_exam_changed_after_the_command_loaded_it_is_a_conflict_and_nothing_is_written(
    db: Database,
) -> None:
    exam = await booked(db)
    assert exam.id is not None
    exam_id = exam.id

    def check_in_after_another_writer(uow: UnitOfWork, actor: Actor, pk: int) -> object:
        # Another writer's commit between this command's load and its write, as the row then
        # looks to this command's UPDATE: the version moved on.
        bump = sa.update(EXAMS).where(EXAMS.c.id == pk).values(version=EXAMS.c.version + 1)
        uow.session.connection().execute(bump)
        return check_in(uow, actor, pk)

    with pytest.raises(Conflict) as raised:
        await Commands(db, SCHEDULER).on_exam("checkIn", exam_id, check_in_after_another_writer)
    assert raised.value.exam_id == exam_id
    stored = await current(db, exam_id)
    assert (stored.status, stored.version) == (ExamStatus.SCHEDULED, exam.version)
    assert await history_to(db, exam_id, ExamStatus.CHECKED_IN) == 0


async def test_racing_commands_on_one_exam_cannot_both_win(db: Database) -> None:
    exam = await booked(db)
    assert exam.id is not None
    exam_id = exam.id

    async def attempt() -> str:
        try:
            await Commands(db, SCHEDULER).on_exam("checkIn", exam_id, check_in)
        except (Conflict, InvalidTransition):
            return "lost"
        return "won"

    outcomes = await asyncio.gather(*(attempt() for _ in range(8)))
    assert outcomes.count("won") == 1
    assert (await current(db, exam_id)).version == exam.version + 1
    assert await history_to(db, exam_id, ExamStatus.CHECKED_IN) == 1
