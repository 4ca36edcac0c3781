"""Each command starts from a clean session: on SQLite a command takes the session the last one
closed, with the connection it keeps (domain/db.py), so nothing a command loaded, staged or failed
with may reach the next."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.pool import QueuePool

from domain.db import Database, UnitOfWork
from domain.enums import ExamStatus
from domain.models import Exam
from domain.tables import EXAMS
from tests.factories import order, reference


class Refused(Exception):
    pass


async def test_a_command_sees_no_row_the_last_one_loaded_staged_or_failed_with(
    db: Database,
) -> None:
    await reference(db)
    exam = await order(db)
    exam_id = exam.id
    assert exam_id is not None
    sessions: list[object] = []

    def load(uow: UnitOfWork) -> str:
        sessions.append(uow.session)
        assert len(uow.session.identity_map) == 0 and not uow.session.new
        row = uow.session.get(Exam, exam_id)
        assert row is not None
        uow.hold(row)
        return row.indication

    def change_by_core(uow: UnitOfWork) -> None:
        sessions.append(uow.session)
        assert len(uow.session.identity_map) == 0  # the last command's exam is gone
        uow.session.connection().execute(
            sa.update(EXAMS).where(EXAMS.c.id == exam_id).values(indication="Changed")
        )

    def stage_then_fail(uow: UnitOfWork) -> None:
        sessions.append(uow.session)
        row = uow.session.get(Exam, exam_id)
        assert row is not None
        row.status = ExamStatus.CANCELLED
        uow.add(Exam(**{**row.model_dump(), "id": None, "accession_number": "X-NEVER"}))
        raise Refused

    assert await db.run(load) == exam.indication
    await db.run(change_by_core)
    assert await db.run(load) == "Changed"  # read again, not the row the first load held
    with pytest.raises(Refused):
        await db.run(stage_then_fail)
    assert await db.run(load) == "Changed"

    def left(uow: UnitOfWork) -> tuple[int, ExamStatus]:
        sessions.append(uow.session)
        count = uow.session.connection().execute(sa.select(sa.func.count()).select_from(EXAMS))
        status = uow.session.connection().execute(
            sa.select(EXAMS.c.status).where(EXAMS.c.id == exam_id)
        )
        return count.scalar_one(), status.scalar_one()

    assert await db.run(left) == (1, exam.status)  # the failed command wrote nothing
    if db.is_sqlite:  # one session, taken again by every command on the loop thread
        assert len({id(s) for s in sessions}) == 1


async def test_a_command_after_a_driver_error_commits_on_the_kept_connection(db: Database) -> None:
    await reference(db)
    exam = await order(db)
    other = await order(db)
    connections: list[object] = []

    def duplicate_accession(uow: UnitOfWork) -> None:
        connection = uow.session.connection()
        connections.append(connection)
        connection.execute(sa.update(EXAMS).where(EXAMS.c.id == exam.id).values(indication="Lost"))
        connection.execute(
            sa.update(EXAMS)
            .where(EXAMS.c.id == other.id)
            .values(accession_number=exam.accession_number)
        )

    def note(uow: UnitOfWork) -> None:
        connections.append(uow.session.connection())
        uow.session.connection().execute(
            sa.update(EXAMS).where(EXAMS.c.id == exam.id).values(indication="Kept")
        )

    with pytest.raises(sa.exc.IntegrityError):
        await db.run(duplicate_accession)
    await db.run(note)
    assert db.sync_engine is None or len({id(c) for c in connections}) == 1

    def indication(session: sa.orm.Session) -> str:
        return str(session.scalar(sa.select(EXAMS.c.indication).where(EXAMS.c.id == exam.id)))

    assert await db.read(indication) == "Kept"  # committed, seen from another connection
    if db.sync_engine is not None:
        with db.kept_transaction() as kept:  # a session-less transaction keeps its own
            kept.execute(sa.update(EXAMS).where(EXAMS.c.id == exam.id).values(indication="Last"))
        assert await db.read(indication) == "Last"
        await db.dispose()
        pool = db.sync_engine.pool
        assert isinstance(pool, QueuePool)
        assert pool.checkedout() == 0  # the kept connection closed with the rest
