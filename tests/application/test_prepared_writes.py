"""A command's closing statements, compiled once and sent by the driver (domain/prepared.py),
write what the Core statements wrote; the exam its access check reads by Core is in the session
as a loaded row (domain/loaded_rows.py); a table model's assignment is tracked as SQLModel's
was (domain/models/_row.py); SQLite's timestamps come back aware, in UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import sqlalchemy as sa
from sqlmodel import col

from domain.access import load_visible_exam
from domain.db import Database, UnitOfWork
from domain.enums import ExamStatus, Modality, Role
from domain.lifecycle import Actor
from domain.models import AuditEvent, Exam, ExamStatusChange, OutboxEvent
from domain.types import UTCDateTime
from tests.application.test_sent_statements import check_in
from tests.factories import SCHEDULER, SUPERVISOR, drive, order, reference


async def test_a_commands_history_audit_and_outbox_rows_read_back_as_the_command_left_them(
    db: Database,
) -> None:
    await reference(db)
    exam = await order(db)
    assert exam.id is not None
    exam_id = exam.id
    await drive(db, exam, ExamStatus.SCHEDULED)
    seen = await check_in(db, exam_id, watched=True)
    for table in ("exam_status_history", "audit_events", "event_outbox"):
        assert sum(f"INSERT INTO {table} " in s for s in seen) == 1, (table, seen)

    def written(uow: UnitOfWork) -> tuple[ExamStatusChange, AuditEvent, OutboxEvent, int]:
        s = uow.session
        history = s.scalars(
            sa.select(ExamStatusChange).where(col(ExamStatusChange.exam_id) == exam_id)
        ).all()[-1]
        record = s.scalars(
            sa.select(AuditEvent).where(col(AuditEvent.user_id) == SCHEDULER.id)
        ).one()
        event = s.scalars(
            sa.select(OutboxEvent)
            .where(col(OutboxEvent.exam_id) == exam_id)
            .order_by(col(OutboxEvent.id).desc())
        ).first()
        assert event is not None
        version = s.scalars(sa.select(col(Exam.version)).where(col(Exam.id) == exam_id)).one()
        return history, record, event, version

    history, record, event, version = await db.run(written)
    assert (history.from_status, history.to_status) == (ExamStatus.SCHEDULED, ExamStatus.CHECKED_IN)
    assert history.at.tzinfo is UTC and history.role == Role.SCHEDULER
    assert record.exam_ids == [exam_id] and record.patient_mrns and record.reason is None
    assert record.client_address == "10.0.0.7" and record.recorded_at.tzinfo is UTC
    assert record.operation == "mutation checkIn"
    assert event.status == ExamStatus.CHECKED_IN.value and event.modality == Modality.US.value
    assert event.payload["exam_version"] == version and event.radiologist_ids == []
    assert event.occurred_at.tzinfo is UTC


async def test_the_exam_read_by_core_is_in_the_session_as_loaded_and_its_changes_are_written(
    db: Database,
) -> None:
    await reference(db)
    exam = await order(db)
    assert exam.id is not None
    exam_id = exam.id

    def load(uow: UnitOfWork) -> tuple[bool, bool, bool, Modality, str, bool, bool]:
        found = load_visible_exam(uow.session, SUPERVISOR, exam_id)
        assert found is not None
        row, modality, mrn = found
        state = sa.inspect(row)
        loaded = (state.persistent, state.modified, uow.session.get(Exam, exam_id) is row)
        row.indication = "Changed indication"
        changed = row in uow.session.dirty and "indication" in row.model_fields_set
        again = load_visible_exam(uow.session, SUPERVISOR, exam_id)
        return (*loaded, modality, mrn, changed, again is not None and again[0] is row)

    persistent, modified, same, modality, mrn, changed, held = await db.run(load)
    assert persistent and not modified and same and changed and held
    assert modality == Modality.US and mrn
    assert (await db.run(lambda uow: uow.exams.get(exam_id))).indication == "Changed indication"
    outsider = Actor("REF99", Role.REFERRER)
    assert await db.run(lambda uow: load_visible_exam(uow.session, outsider, exam_id)) is None


def test_sqlite_timestamps_come_back_aware_in_utc_whatever_zone_they_were_written_in() -> None:
    engine = sa.create_engine("sqlite://")
    metadata = sa.MetaData()
    table = sa.Table(
        "times",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("at", UTCDateTime()),
    )
    metadata.create_all(engine)
    at = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    with engine.begin() as connection:
        connection.execute(
            table.insert(),
            [{"at": at}, {"at": at.astimezone(timezone(timedelta(hours=2)))}, {"at": None}],
        )
        connection.exec_driver_sql("INSERT INTO times (at) VALUES ('2026-01-02 03:04:05')")
        stored = [row[0] for row in connection.exec_driver_sql("SELECT at FROM times")]
        read = [row[0] for row in connection.execute(sa.select(table.c.at).order_by(table.c.id))]
    assert stored[:2] == ["2026-01-02 03:04:05.678901"] * 2  # naive UTC text, as before
    assert read == [at, at, None, at.replace(microsecond=0)]
    assert all(value.tzinfo is UTC for value in read if value is not None)
