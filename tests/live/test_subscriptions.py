"""Subscriptions end to end: a real uvicorn, a real WebSocket, both database backends."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from api.live.outbox import prune, pruned_through
from api.relay import to_global_id
from domain.db import Database, UnitOfWork
from domain.enums import ExamStatus, Role
from domain.events import ExamOrdered
from domain.models import OutboxEvent
from tests import factories
from tests.live.conftest import Server, subscriber

EXAM_STATUS = """
subscription ($filter: ExamStatusFilter, $after: Int) {
  examStatusChanged(filter: $filter, after: $after) {
    eventId type at actor fromStatus toStatus
    exam { accessionNumber status }
  }
}"""


async def outbox_ids(db: Database) -> list[int]:
    return await db.read(
        lambda s: list(s.scalars(sa.select(OutboxEvent.id).order_by(OutboxEvent.id)))
    )


async def test_a_status_change_reaches_a_subscriber_with_its_event_id_and_exam(
    db: Database, server: Server
) -> None:
    await factories.reference(db)
    start = max(await outbox_ids(db))
    async with subscriber(server) as client:
        await client.subscribe("1", EXAM_STATUS, {"after": start})
        exam = await factories.order(db)
        event = (await client.next("1"))["examStatusChanged"]
    assert event["eventId"] == max(await outbox_ids(db)) > start
    assert event["type"] == "EXAM_ORDERED"
    assert event["toStatus"] == ExamStatus.ORDERED.name
    assert event["fromStatus"] is None
    assert event["actor"] == factories.REFERRER.id
    assert event["exam"] == {
        "accessionNumber": exam.accession_number,
        "status": ExamStatus.ORDERED.name,
    }


async def test_a_rolled_back_command_publishes_nothing(db: Database, server: Server) -> None:
    await factories.reference(db)
    start = max(await outbox_ids(db))
    exam = await factories.order(db)

    def emit_then_fail(uow: UnitOfWork) -> None:
        uow.emit(
            ExamOrdered(
                at=uow.now,
                actor="ghost",
                role=Role.SYSTEM,
                exam_id=exam.id or 0,
                accession_number="GHOST",
                site_id=exam.site_id,
                from_status=None,
                to_status=ExamStatus.ORDERED,
            )
        )
        uow.flush()
        raise RuntimeError("the command fails after emitting")

    async with subscriber(server) as client:
        await client.subscribe("1", EXAM_STATUS, {"after": start})
        first = (await client.next("1"))["examStatusChanged"]
        with pytest.raises(RuntimeError):
            await db.run(emit_then_fail)
        second_exam = await factories.order(db)
        second = (await client.next("1"))["examStatusChanged"]
    assert first["exam"]["accessionNumber"] == exam.accession_number
    # The next event after the failed command is the next committed one, not the ghost.
    assert second["exam"]["accessionNumber"] == second_exam.accession_number
    assert second["actor"] == factories.REFERRER.id
    rows = await db.read(lambda s: list(s.scalars(sa.select(OutboxEvent.payload))))
    assert all(row["actor"] != "ghost" for row in rows)


async def test_events_arrive_in_commit_order_each_once(db: Database, server: Server) -> None:
    await factories.reference(db)
    start = max(await outbox_ids(db))
    async with subscriber(server) as client:
        await client.subscribe("1", EXAM_STATUS, {"after": start})
        exams = [await factories.order(db) for _ in range(12)]
        received = [(await client.next("1"))["examStatusChanged"] for _ in exams]
    ids = [e["eventId"] for e in received]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert [e["exam"]["accessionNumber"] for e in received] == [x.accession_number for x in exams]
    assert ids == [i for i in await outbox_ids(db) if i > start]


async def test_resume_after_a_disconnect_replays_what_was_missed_then_streams_live(
    db: Database, server: Server
) -> None:
    await factories.reference(db)
    start = max(await outbox_ids(db))
    async with subscriber(server) as client:
        await client.subscribe("1", EXAM_STATUS, {"after": start})
        await factories.order(db)
        last_seen = (await client.next("1"))["examStatusChanged"]["eventId"]
    missed = [await factories.order(db) for _ in range(3)]
    async with subscriber(server) as client:
        await client.subscribe("again", EXAM_STATUS, {"after": last_seen})
        replayed = [(await client.next("again"))["examStatusChanged"] for _ in missed]
        live = await factories.order(db)
        after_seam = (await client.next("again"))["examStatusChanged"]
    assert [e["exam"]["accessionNumber"] for e in replayed] == [m.accession_number for m in missed]
    assert after_seam["exam"]["accessionNumber"] == live.accession_number
    ids = [e["eventId"] for e in [*replayed, after_seam]]
    assert ids == sorted(set(ids))


async def test_the_filter_selects_by_site_and_status(db: Database, server: Server) -> None:
    await factories.reference(db)
    start = max(await outbox_ids(db))
    north = await factories.order(db, procedure="USABD", site="NORTH")
    site = to_global_id("Site", north.site_id)
    async with subscriber(server) as client:
        await client.subscribe(
            "1", EXAM_STATUS, {"after": start, "filter": {"siteId": site, "status": ["ORDERED"]}}
        )
        await factories.order(db, procedure="CTHEAD", site="MAIN")  # another site
        again = await factories.order(db, procedure="USABD", site="NORTH")
        got = [(await client.next("1"))["examStatusChanged"] for _ in range(2)]
    assert [e["exam"]["accessionNumber"] for e in got] == [
        north.accession_number,
        again.accession_number,
    ]


async def test_resuming_from_before_pruned_events_is_refused_not_served_with_a_gap(
    db: Database, server: Server
) -> None:
    await factories.reference(db)
    start = max(await outbox_ids(db))
    for _ in range(3):
        await factories.order(db)
    ids = await outbox_ids(db)
    cut = ids[-2]
    gone = await prune(db, before=db.clock() + timedelta(days=1), through=cut)
    assert gone == len([i for i in ids if i <= cut])
    assert await pruned_through(db) == cut
    await prune(db, before=db.clock() + timedelta(days=1), through=start)  # never lowers it
    assert await pruned_through(db) == cut
    async with subscriber(server) as client:
        await client.subscribe("old", EXAM_STATUS, {"after": start})
        message = await client.receive()  # an execution error: `next` with it, then complete
        assert message["type"] == "next" and message["id"] == "old", message
        [error] = message["payload"]["errors"]
        assert error["extensions"] == {"code": "RESUME_TOO_OLD", "prunedThrough": cut}
        assert f"after event {start}" in error["message"]
        assert await client.receive() == {"id": "old", "type": "complete"}
        await client.subscribe("edge", EXAM_STATUS, {"after": cut})  # nothing missing here
        replayed = (await client.next("edge"))["examStatusChanged"]
    assert replayed["eventId"] == ids[-1]
