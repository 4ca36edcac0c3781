"""The ACR communication record on SQLite and PostgreSQL: its window decides escalation and the
timeliness metric, a read-back's time is the acknowledgement's, and the message that reached
the referrer (through a real webhook receiver that refuses first tries) says who received the
result, when and how. Every figure is worked out by hand beside it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from application.delivery import Delivery, DeliveryPolicy
from domain.db import Database
from domain.enums import CriticalLevel, ExamStatus, NotificationChannel
from domain.metrics import communications, scope_for, timeliness
from domain.models import ResultCommunication
from domain.services import escalation, results
from interfaces.notify.http import WebhookAdapter
from tests.conftest import Clock
from tests.factories import RADIOLOGIST, REFERRER, SUPERVISOR, drive, order, reference
from tests.interfaces.test_notify import Receiver, receiver  # noqa: F401 (the receiver fixture)

pytestmark = pytest.mark.usefixtures("backend")
# A department that gives critical results half an hour, not the default hour.
WINDOWS = {**results.ACKNOWLEDGE_WITHIN, CriticalLevel.CRITICAL: timedelta(minutes=30)}


async def notified(db: Database, exam_id: int) -> ResultCommunication:
    return await db.run(
        lambda uow: results.notify_result(
            uow=uow, actor=RADIOLOGIST, exam_id=exam_id, windows=WINDOWS
        )
    )


async def acknowledge(db: Database, exam_id: int, **read_back: Any) -> None:
    back = results.ReadBack(**read_back) if read_back else None
    actor = RADIOLOGIST if back else REFERRER
    await db.run(
        lambda uow: results.acknowledge_result(
            uow=uow, actor=actor, exam_id=exam_id, read_back=back
        )
    )


async def test_the_records_window_and_read_back_feed_escalation_and_timeliness(
    db: Database,
    clock: Clock,
    receiver: tuple[str, Receiver],  # noqa: F811
) -> None:
    await reference(db)
    a, b, c, d, e = [
        await drive(db, await order(db), ExamStatus.FINAL, critical=CriticalLevel.CRITICAL)
        for _ in range(5)
    ]
    start = clock.now
    for exam in (a, b, c, d):
        await notified(db, exam.id or 0)  # all four at `start`, each with a 30-minute window

    # The message to the referrer (PHONE, served by the webhook) is refused once, then taken.
    url, hook = receiver
    delivery = Delivery(
        db,
        {NotificationChannel.PHONE: WebhookAdapter(f"{url}/hook", "secret")},
        DeliveryPolicy(backoff=timedelta(0), max_backoff=timedelta(0)),
    )
    clock.advance(minutes=1)
    assert (await delivery.run_once()).retrying == 4  # every first try refused
    clock.advance(minutes=1)
    assert (await delivery.run_once()).sent == 4
    tries = [h["x-radflow-delivery"] for _, h, _ in hook.requests]
    assert len(tries) == 8 and len(set(tries)) == 4  # each message twice, one delivery id
    record = await db.read(lambda s: s.get(ResultCommunication, 1))
    assert record is not None and record.exam_id == a.id
    assert (record.received_by_kind, record.received_by_name, record.received_via) == (
        "referrer",
        "Dr. Grace Kim (Emergency)",
        NotificationChannel.PHONE,  # the channel that reached them
    )
    assert record.received_at == start + timedelta(minutes=2)  # the accepted try, not the first

    clock.now = start + timedelta(minutes=20)
    await acknowledge(db, a.id or 0)  # A: the referrer, 20 min: in time
    clock.now = start + timedelta(minutes=31)
    escalated = await db.run(
        lambda uow: escalation.escalate_overdue_results(uow=uow, actor=SUPERVISOR)
    )
    # B, C and D are past their own 30 minutes (the default hour would escalate none).
    assert sorted(r.exam_id for r in escalated) == sorted([b.id, c.id, d.id])
    assert {r.escalated_to_kind for r in escalated} == {"supervisor"}  # REF01 has no cover
    assert {r.escalated_via for r in escalated} == {NotificationChannel.PHONE}

    clock.now = start + timedelta(minutes=45)
    await acknowledge(db, c.id or 0)  # C: the referrer, 45 min: late
    clock.now = start + timedelta(minutes=50)  # B: read back at 25 min, recorded at 50
    await acknowledge(
        db,
        b.id or 0,
        read_back_by="Dr Grace Kim",
        via=NotificationChannel.PHONE,
        at=start + timedelta(minutes=25),
    )
    clock.now = start + timedelta(hours=2, minutes=50)
    await notified(db, e.id or 0)  # E: communicated at 2 h 50, window open at 3 h
    now = start + timedelta(hours=3)  # D: never acknowledged, window over: a miss

    def measured(session: Any) -> Any:
        scope = scope_for(session, start=start - timedelta(days=1), end=now)
        return timeliness(communications(session, scope), now=now, windows=WINDOWS)

    critical = next(t for t in await db.read(measured) if t.level == CriticalLevel.CRITICAL)
    assert critical.window == timedelta(minutes=30)
    assert (
        critical.communicated,
        critical.acknowledged_in_time,  # A (20), B (read back at 25)
        critical.acknowledged_late,  # C (45)
        critical.unacknowledged,  # D
        critical.awaiting,  # E
    ) == (5, 2, 1, 1, 1)
    assert critical.in_time_rate == 2 / 4  # the miss counts against it, E not yet
    assert critical.minutes_to_acknowledge.count == 3
    assert critical.minutes_to_acknowledge.median_minutes == 25.0  # of 20, 25, 45
    b_record = await db.read(lambda s: s.get(ResultCommunication, 2))
    assert b_record is not None
    assert (b_record.acknowledged_by, b_record.read_back_by) == ("RAD03", "Dr Grace Kim")
