"""A subscriber that falls too far behind is cut off with a typed error naming where to resume."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest

from api.live import service
from api.live.events import LiveEvent
from api.live.service import Live, SubscriberTooSlow
from application.settings import Settings
from domain.db import Database


def event(event_id: int) -> LiveEvent:
    return LiveEvent(
        id=event_id,
        type="ExamOrdered",
        topic="exam_status",
        at=datetime(2026, 3, 2, tzinfo=UTC),
        exam_id=1,
        site_id=1,
        modality="CT",
        status="ORDERED",
        radiologist_ids=(),
        payload={},
    )


async def test_a_subscriber_past_the_queue_limit_gets_subscriber_too_slow(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(service, "QUEUE_LIMIT", 2)
    db = Database(f"sqlite:///{tmp_path / 'live.db'}")
    live = Live(db, Settings())
    live.hub.last_id = 10  # what the hub had delivered before this subscriber came
    stream = live.events("exam_status", lambda _: True)
    first = asyncio.ensure_future(anext(stream))
    await asyncio.sleep(0)  # the stream listens and waits for its first event
    live.hub.publish([event(n) for n in (11, 12, 13, 14)])  # two fit in its queue, two do not
    with pytest.raises(SubscriberTooSlow) as refused:
        await first
    assert refused.value.extensions == {"code": "SUBSCRIBER_TOO_SLOW", "resumeAfter": 10}
    assert "fell behind at event 13" in refused.value.message
    assert live.hub.listener_count() == 0  # the stream let go of the hub
    await stream.aclose()
    await db.dispose()
