"""A replayed event says what happened then; the current exam is one field away."""

from __future__ import annotations

import sqlalchemy as sa

from api.relay import to_global_id
from domain.db import Database
from domain.enums import ExamStatus
from domain.models import OutboxEvent
from tests import factories
from tests.live.conftest import Server, subscriber

REPLAY = """
subscription ($filter: ExamStatusFilter, $after: Int) {
  examStatusChanged(filter: $filter, after: $after) {
    type step fromStatus toStatus version
    exam { status version }
  }
}"""


async def test_a_replay_after_two_steps_shows_each_as_it_was_and_the_exam_as_it_is(
    db: Database, server: Server
) -> None:
    await factories.reference(db)
    start = await db.read(lambda s: s.scalar(sa.select(sa.func.max(OutboxEvent.id))))
    exam = await factories.order(db)
    ordered_version = exam.version
    await factories.drive(db, exam, ExamStatus.CHECKED_IN)  # schedule, then check in
    now = await factories.current(db, exam.id or 0)
    async with subscriber(server) as client:
        await client.subscribe(
            "1", REPLAY, {"after": start, "filter": {"examId": to_global_id("Exam", exam.id or 0)}}
        )
        replayed = [(await client.next("1"))["examStatusChanged"] for _ in range(3)]
    first, scheduled, checked_in = replayed
    assert (first["type"], first["step"], first["toStatus"], first["version"]) == (
        "EXAM_ORDERED",
        "ORDER",
        "ORDERED",
        ordered_version,
    )
    assert (scheduled["step"], scheduled["fromStatus"], scheduled["toStatus"]) == (
        "SCHEDULE",
        "ORDERED",
        "SCHEDULED",
    )
    assert ordered_version < scheduled["version"] < checked_in["version"] == now.version
    # The object field is the exam now, for every event, replayed or live.
    assert all(e["exam"] == {"status": "CHECKED_IN", "version": now.version} for e in replayed)
