"""A command's prepared statements go to the driver's cursor unless something watches the
engine's statements (domain/prepared.py): what they write and read is what the Core statements
wrote and read, a driver error is SQLAlchemy's error, and a listener still sees every one."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import col

from application.commands import Commands
from domain import audit
from domain import prepared as prepared_module
from domain.access import load_visible_exam
from domain.closing_rows import TOGETHER, write_closing_rows
from domain.db import Database, UnitOfWork
from domain.enums import ExamStatus, Modality, Role
from domain.lifecycle import Actor
from domain.models import AuditEvent, Exam, ExamStatusChange, OutboxEvent
from domain.models._columns import core_table
from domain.prepared import PreparedStatement
from domain.services import scheduling
from domain.types import UTCDateTime
from tests.application.test_reference_rows import statements
from tests.factories import REFERRER, SCHEDULER, SUPERVISOR, drive, order, reference

EVENT_OUTBOX = core_table(OutboxEvent)


@pytest.fixture
def sends(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The SQL of each statement sent straight to the driver."""
    sent: list[str] = []
    send = prepared_module._send

    def counted(connection: sa.Connection, compiled: Any, parameters: Any, *, many: bool) -> Any:
        sent.append(compiled.sql)
        return send(connection, compiled, parameters, many=many)

    monkeypatch.setattr(prepared_module, "_send", counted)
    return sent


async def check_in(db: Database, exam_id: int, *, watched: bool) -> list[str]:
    """Check the exam in under an audit trail; the statements a listener saw, if one watched."""
    trail = audit.Trail(
        actor=SCHEDULER,
        client_address="10.0.0.7",
        operation="mutation checkIn",
        action=audit.AuditAction.UPDATE,
        always=True,
    )
    token = audit.current_trail.set(trail)

    async def run() -> None:
        await Commands(db, SCHEDULER).on_exam(
            "checkIn",
            exam_id,
            lambda uow, actor, pk: scheduling.check_in(uow=uow, actor=actor, exam_id=pk),
        )

    try:
        if not watched:
            await run()
            return []
        with statements(db) as seen:
            await run()
        return seen
    finally:
        audit.current_trail.reset(token)


def written(uow: UnitOfWork, exam_id: int) -> dict[str, Any]:
    """The rows a check-in of the exam left: its history row, audit record and outbox event,
    without what differs between two exams (ids, times, the exam itself)."""
    s = uow.session
    history = s.scalars(
        sa.select(ExamStatusChange).where(col(ExamStatusChange.exam_id) == exam_id)
    ).all()[-1]
    record = [
        r
        for r in s.scalars(sa.select(AuditEvent).where(col(AuditEvent.user_id) == SCHEDULER.id))
        if r.exam_ids == [exam_id]
    ][-1]
    event = s.scalars(
        sa.select(OutboxEvent)
        .where(col(OutboxEvent.exam_id) == exam_id)
        .order_by(col(OutboxEvent.id).desc())
    ).first()
    exam = s.get(Exam, exam_id)
    assert event is not None and exam is not None
    payload = {k: v for k, v in event.payload.items() if k not in {"exam_id", "accession_number"}}
    return {
        "history": (history.from_status, history.to_status, history.role, history.actor),
        "history_at_utc": history.at.tzinfo is UTC,
        "audit": (record.event_type, record.action, record.outcome, record.operation),
        "audit_client": record.client_address,
        "audit_mrns": len(record.patient_mrns),
        "event": (event.type, event.topic, event.status, event.modality, event.site_id),
        "payload": payload,
        "exam": (exam.status, exam.version),
    }


async def test_a_commands_rows_sent_to_the_driver_are_the_rows_core_wrote(
    db: Database, sends: list[str]
) -> None:
    await reference(db)
    exams = [await order(db), await order(db)]
    for exam in exams:
        await drive(db, exam, ExamStatus.SCHEDULED)
    by_core, by_driver = (exam.id for exam in exams)
    assert by_core is not None and by_driver is not None

    sends.clear()
    seen = await check_in(db, by_core, watched=True)
    assert sends == []  # watched: every statement through SQLAlchemy, seen by the listener
    for table in ("exam_status_history", "audit_events", "event_outbox"):
        assert sum(f"INSERT INTO {table} " in s for s in seen) == 1, (table, seen)
    await check_in(db, by_driver, watched=False)
    for table in ("exam_status_history", "audit_events", "event_outbox"):
        assert sum(f"INSERT INTO {table} " in s for s in sends) == 1, (table, sends)
    assert sum(s.startswith("UPDATE exams ") for s in sends) == 1
    assert any(s.startswith("SELECT exams.id") for s in sends)  # the exam's read

    core = await db.run(lambda uow: written(uow, by_core))
    driver = await db.run(lambda uow: written(uow, by_driver))
    assert driver == core
    assert driver["exam"] == (ExamStatus.CHECKED_IN, core["exam"][1])
    assert driver["history_at_utc"] and driver["audit_client"] == "10.0.0.7"


async def test_the_exam_read_by_the_driver_comes_back_typed_in_every_scope(
    db: Database, sends: list[str]
) -> None:
    await reference(db)
    exam = await order(db, site="NORTH")
    assert exam.id is not None
    exam_id = exam.id
    sends.clear()
    callers = {
        "supervisor": SUPERVISOR,
        "referrer": REFERRER,
        "technologist at NORTH": Actor("tech.n", Role.TECHNOLOGIST, sites=frozenset({"NORTH"})),
        "technologist at both": Actor(
            "tech.b", Role.TECHNOLOGIST, sites=frozenset({"MAIN", "NORTH"})
        ),
    }
    strangers = {
        "other referrer": Actor("REF99", Role.REFERRER),
        "technologist at MAIN": Actor("tech.m", Role.TECHNOLOGIST, sites=frozenset({"MAIN"})),
        "radiologist who never read it": Actor("RAD03", Role.RADIOLOGIST),
    }

    def load(uow: UnitOfWork, actor: Actor) -> tuple[Any, ...] | None:
        found = load_visible_exam(uow.session, actor, exam_id)
        if found is None:
            return None
        row, modality, mrn = found
        return (type(row.status), row.ordered_at, type(modality), modality, mrn, row.version)

    for name, actor in callers.items():
        got = await db.run(lambda uow, actor=actor: load(uow, actor))  # type: ignore[misc]
        assert got is not None, name
        status_type, ordered_at, modality_type, modality, mrn, version = got
        assert status_type is ExamStatus and modality_type is Modality, name
        assert modality is Modality.US and mrn == "MRN000001" and version == 1, name
        assert isinstance(ordered_at, datetime) and ordered_at.tzinfo is UTC, name
    for name, actor in strangers.items():
        assert await db.run(lambda uow, actor=actor: load(uow, actor)) is None, name  # type: ignore[misc]
    assert len(sends) == len(callers) + len(strangers)  # every read went to the driver


async def test_a_driver_error_is_raised_as_sqlalchemys_and_nothing_is_written(
    db: Database, sends: list[str]
) -> None:
    insert = PreparedStatement(
        sa.insert(EVENT_OUTBOX),
        ["id", "occurred_at", "type", "topic", "radiologist_ids", "payload"],
    )
    row = {
        "id": 7,
        "occurred_at": datetime(2026, 3, 2, 7, 0, tzinfo=UTC),
        "type": "Probe",
        "topic": "probe",
        "radiologist_ids": [],
        "payload": {},
    }

    def twice(uow: UnitOfWork) -> None:
        connection = uow.session.connection()
        assert insert.execute(connection, [row]).rowcount == 1
        insert.execute(connection, [row])  # the same key again

    with pytest.raises(sa.exc.IntegrityError):
        await db.run(twice)
    assert len(sends) == 2

    def count(uow: UnitOfWork) -> int:
        query = sa.select(sa.func.count()).select_from(EVENT_OUTBOX)
        return int(uow.session.connection().execute(query).scalar_one())

    assert await db.run(count) == 0  # the first row went with the failed transaction


def test_a_statement_with_its_own_values_reads_back_what_core_reads() -> None:
    engine = sa.create_engine("sqlite://")
    metadata = sa.MetaData()
    table = sa.Table(
        "probes",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("status", sa.Enum(ExamStatus, native_enum=False)),
        sa.Column("at", UTCDateTime()),
        sa.Column("doc", sa.JSON, nullable=True),
    )
    metadata.create_all(engine)
    at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    rows = [
        {"id": 1, "status": ExamStatus.ORDERED, "at": at, "doc": {"a": [1]}},
        {"id": 2, "status": ExamStatus.CLOSED, "at": at, "doc": None},
        {"id": 3, "status": ExamStatus.ORDERED, "at": None, "doc": [2]},
    ]
    c = table.c
    query = (
        sa.select(c.id, c.status, c.at, c.doc, (c.id > 1).label("later"), sa.func.count().over())
        .where(c.status != ExamStatus.CANCELLED, c.id >= sa.bindparam("lowest"))
        .order_by(c.id)
        .limit(2)
        .offset(sa.bindparam("skip"))
    )
    statement = PreparedStatement(query, None)
    with engine.begin() as connection:
        PreparedStatement(sa.insert(table), ["id", "status", "at", "doc"]).execute(connection, rows)
        for parameters in ({"lowest": 1, "skip": 0}, {"lowest": 2, "skip": 1}):
            by_core = [tuple(r) for r in connection.execute(query, parameters)]
            sent = statement.execute(connection, [parameters]).all()
            assert sent == by_core
        assert sent == [(3, ExamStatus.ORDERED, None, [2], True, 2)]
        assert statement.execute(connection, [{"lowest": 1, "skip": 0}]).all()[0] == (
            1,
            ExamStatus.ORDERED,
            at,
            {"a": [1]},
            False,
            3,
        )
        with pytest.raises(sa.exc.MultipleResultsFound):
            statement.execute(connection, [{"lowest": 1, "skip": 0}]).one()
        with pytest.raises(sa.exc.NoResultFound):
            statement.execute(connection, [{"lowest": 9, "skip": 0}]).one()
        with pytest.raises(KeyError):
            statement.execute(connection, [{"lowest": 1}])  # a parameter left out


def test_a_listener_added_after_a_transaction_sees_the_next_ones_statements(
    sends: list[str],
) -> None:
    engine = sa.create_engine("sqlite://")
    metadata = sa.MetaData()
    table = sa.Table("probes", metadata, sa.Column("id", sa.Integer, primary_key=True))
    metadata.create_all(engine)
    insert = PreparedStatement(sa.insert(table), ["id"])
    seen: list[str] = []

    def record(_connection: object, _cursor: object, statement: str, *_: object) -> None:
        seen.append(statement)

    with engine.connect() as connection:
        with connection.begin():
            insert.execute(connection, [{"id": 1}])
            insert.execute(connection, [{"id": 2}])  # unwatched, as found for this transaction
        assert len(sends) == 2 and seen == []
        sa.event.listen(engine, "before_cursor_execute", record)
        try:
            with connection.begin():  # the same connection, its next transaction
                insert.execute(connection, [{"id": 3}])
            with engine.begin() as other:
                insert.execute(other, [{"id": 4}])
        finally:
            sa.event.remove(engine, "before_cursor_execute", record)
    assert len(sends) == 2  # both went through SQLAlchemy, where the listener saw them
    assert [s.split()[0] for s in seen] == ["INSERT", "INSERT"]


async def test_a_commands_closing_rows_go_as_one_statement_on_postgresql(
    db: Database, sends: list[str]
) -> None:
    await reference(db)
    exam = await order(db)
    await drive(db, exam, ExamStatus.SCHEDULED)
    assert exam.id is not None
    sends.clear()
    await check_in(db, exam.id, watched=False)
    closing = [s for s in sends if "INSERT INTO" in s]
    if db.backend == "postgresql":  # history and audit as CTEs of the outbox's INSERT
        assert len(closing) == 1, closing
        (sql,) = closing
        assert sql.index("INSERT INTO exam_status_history ") < sql.index(
            "INSERT INTO event_outbox "
        )
        assert sql.index("INSERT INTO audit_events ") < sql.index("INSERT INTO event_outbox ")
        assert "pg_advisory_xact_lock" in sql
    else:  # SQLite has no data-modifying CTEs: one statement per table
        assert [s.split()[2] for s in closing] == [
            "exam_status_history",
            "audit_events",
            "event_outbox",
        ]


@pytest.mark.parametrize(
    ("histories", "records", "events"), [(2, 1, 3), (0, 1, 2), (1, 1, 0), (1, 0, 6)]
)
async def test_closing_rows_of_any_shape_are_all_written_the_events_in_order(
    db: Database, sends: list[str], histories: int, records: int, events: int
) -> None:
    await reference(db)
    exam = await order(db)
    assert exam.id is not None
    exam_id = exam.id
    at = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    history = [
        {
            "exam_id": exam_id,
            "from_status": ExamStatus.ORDERED,
            "to_status": ExamStatus.SCHEDULED,
            "event": f"SHAPE{n}",
            "actor": "shape.test",
            "role": Role.SCHEDULER,
            "at": at,
            "reason": None,
        }
        for n in range(histories)
    ]
    trail = audit.Trail(
        actor=SCHEDULER, client_address=None, operation="shape", action=audit.AuditAction.READ
    )
    outbox = [
        {
            "occurred_at": at,
            "type": f"Shape{n}",
            "topic": "other",
            "exam_id": exam_id,
            "site_id": None,
            "modality": Modality.CT.value,
            "status": None,
            "radiologist_ids": [n],
            "payload": {"n": n},
        }
        for n in range(events)
    ]

    def write(uow: UnitOfWork) -> None:
        connection = uow.session.connection()
        rows = [audit.record_values(connection, trail, at) for _ in range(records)]
        write_closing_rows(connection, history, rows, outbox)

    sends.clear()
    await db.run(write)

    def read(uow: UnitOfWork) -> tuple[list[str], int, list[tuple[str, Any]]]:
        s = uow.session
        kinds = list(
            s.scalars(
                sa.select(ExamStatusChange.event)
                .where(col(ExamStatusChange.actor) == "shape.test")
                .order_by(col(ExamStatusChange.id))
            )
        )
        audited = s.scalar(
            sa.select(sa.func.count())
            .select_from(AuditEvent)
            .where(col(AuditEvent.operation) == "shape")
        )
        rows = s.execute(
            sa.select(OutboxEvent.type, OutboxEvent.radiologist_ids)
            .where(col(OutboxEvent.type).like("Shape%"))
            .order_by(col(OutboxEvent.id))
        ).all()
        return kinds, audited or 0, [tuple(r) for r in rows]

    kinds, audited, rows = await db.run(read)
    assert kinds == [f"SHAPE{n}" for n in range(histories)]
    assert audited == records
    assert rows == [(f"Shape{n}", [n]) for n in range(events)]  # ids drawn in the events' order
    tables = (histories > 0) + (records > 0) + (events > 0)
    together = db.backend == "postgresql" and events <= TOGETHER and tables > 1
    assert sum("INSERT INTO" in s for s in sends) == (1 if together else tables)
