"""Rows a command loaded and changed beside its exam are written by one Core UPDATE each by their
key (the exam's versioned: tests/application/test_exam_writes.py), and the rows it adds by one
INSERT each, then held in its session as loaded rows: the ORM's flush writes neither."""

from __future__ import annotations

import re

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Session
from sqlmodel import col

from domain.db import Database, UnitOfWork
from domain.enums import AppointmentStatus, ExamStatus
from domain.models import Appointment
from domain.services import scheduling
from tests.application.test_reference_rows import statements
from tests.factories import SCHEDULER, drive, first_slot, order, reference


async def test_a_changed_appointment_is_written_by_one_update_by_its_key_not_by_the_flush(
    db: Database,
) -> None:
    await reference(db)
    exam = await drive(db, await order(db), ExamStatus.SCHEDULED)
    assert exam.id is not None
    exam_id = exam.id
    flushed: list[str] = []

    def before_flush(session: Session, *_: object) -> None:
        flushed.extend(type(row).__name__ for row in session.dirty)

    event.listen(Session, "before_flush", before_flush)
    try:
        with statements(db) as seen:
            await db.run(
                lambda uow: scheduling.confirm_appointment(
                    uow=uow, actor=SCHEDULER, exam_id=exam_id
                )
            )
    finally:
        event.remove(Session, "before_flush", before_flush)
    updates = [s for s in seen if s.startswith("UPDATE appointments")]
    assert len(updates) == 1, seen
    assert re.search(r"WHERE appointments.id = (\?|\$\d+::INTEGER)$", updates[0]), updates[0]
    assert "Appointment" not in flushed

    def status(uow: UnitOfWork) -> AppointmentStatus:
        query = sa.select(col(Appointment.status)).where(col(Appointment.exam_id) == exam_id)
        return AppointmentStatus(uow.session.scalars(query).one())

    assert await db.run(status) == AppointmentStatus.CONFIRMED


async def test_a_new_appointment_is_inserted_by_one_insert_and_left_loaded_in_the_session(
    db: Database,
) -> None:
    await reference(db)
    exam = await order(db)
    assert exam.id is not None
    exam_id = exam.id
    slot = await first_slot(db, "USABD")
    flushed: list[str] = []

    def before_flush(session: Session, *_: object) -> None:
        flushed.extend(type(row).__name__ for row in session.new)

    def book(uow: UnitOfWork) -> tuple[int | None, bool]:
        appointment = scheduling.schedule_exam(
            uow=uow,
            actor=SCHEDULER,
            exam_id=exam_id,
            resource_code=slot.resource_code,
            starts_at=slot.starts_at,
        )
        state = sa.inspect(appointment)
        return appointment.id, state.persistent and appointment in uow.session

    event.listen(Session, "before_flush", before_flush)
    try:
        with statements(db) as seen:
            appointment_id, loaded = await db.run(book)
    finally:
        event.remove(Session, "before_flush", before_flush)
    assert appointment_id is not None and loaded
    assert sum(1 for s in seen if s.startswith("INSERT INTO appointments ")) == 1, seen
    assert "Appointment" not in flushed

    def stored(uow: UnitOfWork) -> tuple[int, AppointmentStatus]:
        query = sa.select(col(Appointment.id), col(Appointment.status)).where(
            col(Appointment.exam_id) == exam_id
        )
        found, status = uow.session.execute(query).one()
        return found, AppointmentStatus(status)

    assert await db.run(stored) == (appointment_id, AppointmentStatus.BOOKED)
