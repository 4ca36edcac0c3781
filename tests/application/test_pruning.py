"""Retention on the clock: old operational rows go, nothing a reader still needs does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from api.live.outbox import RELAY_CURSOR, pruned_through, record_published
from application.clock import Clock
from application.operations import RETENTION, jobs_for, retention_of
from application.pruning import Retention, kept, prune_all
from application.settings import Settings
from domain.db import Database
from domain.enums import NotificationChannel, NotificationStatus, NotificationTemplate
from domain.models import InboundMessage, Notification, OutboundCursor, ScheduledWork
from domain.models.outbox import OutboxEvent
from tests.conftest import Clock as SetClock

pytestmark = pytest.mark.usefixtures("backend")

DAY = timedelta(days=1)
QUEUED_AT = datetime(2025, 1, 1, tzinfo=UTC)  # long ago: a queued message is never pruned
RULES = Retention(
    outbox=timedelta(hours=72),
    notifications=90 * DAY,
    scheduled_work=7 * DAY,
    inbound_messages=7 * DAY,
)


def event(at: datetime) -> OutboxEvent:
    return OutboxEvent(occurred_at=at, type="Test", topic="other", radiologist_ids=[], payload={})


def message(status: NotificationStatus, done_at: datetime | None) -> Notification:
    """A notification in `status`, sent, cancelled or failed at `done_at`."""
    queued_at = done_at or QUEUED_AT
    return Notification(
        recipient_kind="referrer",
        recipient_id=1,
        channel=NotificationChannel.EMAIL,
        template=NotificationTemplate.RESULT_AVAILABLE,
        send_at=queued_at,
        status=status,
        created_at=queued_at,
        payload={},
        sent_at=done_at if status == NotificationStatus.SENT else None,
        cancelled_at=done_at if status == NotificationStatus.CANCELLED else None,
        failed_at=done_at if status == NotificationStatus.FAILED else None,
    )


def ids(session: Session, model: type) -> list[int]:
    return list(session.scalars(sa.select(model.id).order_by(model.id)))  # type: ignore[attr-defined]


async def test_outbox_events_go_once_old_and_past_every_cursor_and_the_cut_is_recorded(
    db: Database, clock: SetClock
) -> None:
    now = clock.now
    old = [event(now - timedelta(hours=100 - n)) for n in range(6)]  # 95-100 h old
    fresh = event(now - timedelta(hours=1))
    await db.run(lambda uow: uow.session.add_all([*old, fresh]))
    first = old[0].id
    assert first is not None
    # An HL7 destination that is down has dealt with the first two only.
    await db.run(
        lambda uow: uow.session.add(
            OutboundCursor(destination="RIS", protocol="HL7V2", position=first + 1, updated_at=now)
        )
    )
    await record_published(db, first + 4)  # the live relay published five

    assert (await db.run(lambda uow: prune_all(uow, RULES))).outbox == 2
    assert await pruned_through(db) == first + 1

    # The destination catches up; the relay is now what holds pruning back.
    await db.run(lambda uow: _move(uow.session, "RIS", 10**9))
    status = {k.table: k for k in await db.read(lambda s: kept(s, RULES))}
    assert (status["event_outbox"].held_by, status["event_outbox"].held_at) == (
        RELAY_CURSOR,
        first + 4,
    )
    assert (await db.run(lambda uow: prune_all(uow, RULES))).outbox == 3
    await record_published(db, first + 2)  # a replica's relay behind the others: no step back
    await record_published(db, fresh.id or 0)
    assert (await db.run(lambda uow: prune_all(uow, RULES))).outbox == 1  # the last old one
    left = await db.read(lambda s: ids(s, OutboxEvent))
    assert left == [fresh.id] and await pruned_through(db) == first + 5


def _move(session: Session, destination: str, position: int) -> None:
    cursor = session.get(OutboundCursor, destination)
    assert cursor is not None
    cursor.position = position


async def test_delivered_notifications_finished_work_and_old_inbound_messages_go_dead_letters_stay(
    db: Database, clock: SetClock
) -> None:
    now = clock.now
    S = NotificationStatus
    rows = {
        "sent long ago": message(S.SENT, now - 91 * DAY),
        "cancelled long ago": message(S.CANCELLED, now - 100 * DAY),
        "sent lately": message(S.SENT, now - 89 * DAY),
        "failed long ago": message(S.FAILED, now - 200 * DAY),  # a dead letter: kept
        "queued": message(S.QUEUED, None),
    }
    work = [
        ScheduledWork(kind="gone_job", due_at=now - 8 * DAY, every_seconds=60),
        ScheduledWork(kind="live_job", due_at=now - timedelta(seconds=5), every_seconds=60),
        ScheduledWork(  # due long ago but held by a running replica: not abandoned
            kind="long_run",
            due_at=now - 8 * DAY,
            every_seconds=60,
            claimed_by="a",
            claimed_until=now + timedelta(seconds=30),
        ),
    ]
    inbound = [
        InboundMessage(
            protocol="HL7V2",
            sender="EPIC^HOSP",
            control_id=f"M{n}",
            message_type="ORM^O01",
            received_at=now - timedelta(days=days),
            acknowledgement="MSA|AA",
        )
        for n, days in enumerate([8, 6.9])
    ]
    await db.run(lambda uow: uow.session.add_all([*rows.values(), *work, *inbound]))

    pruned = await db.run(lambda uow: prune_all(uow, RULES))
    assert (pruned.notifications, pruned.scheduled_work, pruned.inbound_messages) == (2, 1, 1)

    def left(session: Session) -> tuple[list[int], list[str], list[str]]:
        return (
            ids(session, Notification),
            list(session.scalars(sa.select(ScheduledWork.kind).order_by(ScheduledWork.kind))),
            list(session.scalars(sa.select(InboundMessage.control_id))),
        )

    kept_ids = sorted(rows[k].id or 0 for k in ("sent lately", "failed long ago", "queued"))
    assert await db.read(left) == (kept_ids, ["live_job", "long_run"], ["M1"])
    assert str(await db.run(lambda uow: prune_all(uow, RULES))) == (
        "pruned 0 outbox events, 0 notifications, 0 scheduled work, 0 inbound messages"
    )


async def test_the_clock_runs_retention_and_operations_status_shows_it(
    db: Database, clock: SetClock
) -> None:
    settings = Settings(RADFLOW_NOTIFICATION_RETENTION_DAYS=30)  # type: ignore[call-arg]
    old = message(NotificationStatus.SENT, clock.now - 31 * DAY)
    await db.run(lambda uow: uow.session.add(old))
    jobs = [j for j in jobs_for(db, settings, None) if j.kind == RETENTION]
    runner = Clock(db, jobs, replica="r1", poll_seconds=1, lease=timedelta(seconds=30))

    assert await runner.tick() == [RETENTION]
    outcome = await db.read(lambda s: s.get(ScheduledWork, RETENTION))
    assert outcome is not None and outcome.last_outcome is not None
    assert "1 notifications" in outcome.last_outcome
    assert await db.read(lambda s: s.get(Notification, old.id)) is None
    status = {k.table: k for k in await db.read(lambda s: kept(s, retention_of(settings)))}
    assert status["notifications"].keep == 30 * DAY and status["notifications"].rows == 0
    assert await runner.tick() == []  # not due again for an hour
