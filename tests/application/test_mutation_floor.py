"""bench.lifecycle's floor (bench/_mutation_floor.py) does what it says, on radflow's own app:
reads the exam, refuses a stale version, updates the status and version, writes one history
row, and answers only a caller with a valid token."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from api.app import create_app
from api.relay import to_global_id
from application.settings import Settings
from bench import _mutation_floor as floor
from bench._asgi import AsgiClient
from domain.db import Database, UnitOfWork
from domain.enums import ExamStatus, Role
from domain.tables import EXAM_HISTORY, EXAMS
from tests.conftest import token_for
from tests.factories import order, reference


async def test_the_floor_advances_an_exam_once_per_version_and_writes_its_history(
    db: Database,
) -> None:
    await reference(db)
    exam = await order(db)
    assert exam.id is not None
    exam_id = exam.id
    app = create_app(Settings(database_url=str(db.url)), db=db)
    floor.mount_floor(app)
    client = AsgiClient(app)
    caller = {"Authorization": f"Bearer {token_for('desk', Role.SCHEDULER.value)}"}
    global_id = to_global_id("Exam", exam_id)

    async def advance(version: int, status: ExamStatus, headers: dict[str, str]) -> object:
        body = await client.post_json(
            floor.PATH, floor.request_of(global_id, version, status.value), headers
        )
        return body.get("data") and body["data"]["advanceExam"]

    assert await advance(1, ExamStatus.SCHEDULED, caller) == {
        "__typename": "ExamAdvanced",
        "version": 2,
    }
    stale = await advance(1, ExamStatus.CHECKED_IN, caller)
    assert stale == {"__typename": "VersionConflict", "actualVersion": 2}
    assert await advance(2, ExamStatus.CHECKED_IN, caller) == {
        "__typename": "ExamAdvanced",
        "version": 3,
    }
    with pytest.raises(RuntimeError, match="HTTP 401"):
        await client.post_json(
            floor.PATH,
            floor.request_of(global_id, 3, "CLOSED"),
            {"Authorization": "Bearer not-a-token"},
        )

    def state(uow: UnitOfWork) -> tuple[object, ...]:
        connection = uow.session.connection()
        status, version = connection.execute(
            sa.select(EXAMS.c.status, EXAMS.c.version).where(EXAMS.c.id == exam_id)
        ).one()
        history = connection.execute(
            sa.select(EXAM_HISTORY.c.from_status, EXAM_HISTORY.c.to_status, EXAM_HISTORY.c.actor)
            .where(EXAM_HISTORY.c.exam_id == exam_id, EXAM_HISTORY.c.event == "FLOOR")
            .order_by(EXAM_HISTORY.c.id)
        ).all()
        return status, version, [tuple(row) for row in history]

    status, version, history = await db.run(state)
    assert (status, version) == (ExamStatus.CHECKED_IN, 3)
    assert history == [
        (ExamStatus.ORDERED, ExamStatus.SCHEDULED, "desk"),
        (ExamStatus.SCHEDULED, ExamStatus.CHECKED_IN, "desk"),
    ]
