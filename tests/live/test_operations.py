"""/readyz and the live-update metrics."""

from __future__ import annotations

import asyncio

import sqlalchemy as sa

from domain.db import Database
from domain.models import OutboxEvent
from tests import factories
from tests.live.conftest import WAIT, Server, subscriber


def sample(text: str, name: str) -> float:
    """The value of an unlabelled sample in Prometheus' text format."""
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not exposed")


async def test_readyz_reports_database_broker_and_outbox(db: Database, server: Server) -> None:
    response = await server.client.get("/readyz")
    body = response.json()
    assert response.status_code == 200, body
    assert body["database"] == "ok" and body["broker"] == "in-process"
    assert body["broker_status"] == "ok"
    assert body["outbox"]["unpublished"] == 0


async def test_metrics_count_subscriptions_and_published_events(
    db: Database, server: Server
) -> None:
    await factories.reference(db)
    start = int(await db.read(lambda s: s.scalar(sa.select(sa.func.max(OutboxEvent.id)))))
    async with subscriber(server) as client:
        await client.subscribe(
            "1", "subscription ($a: Int) { examStatusChanged(after: $a) { eventId } }", {"a": start}
        )
        await factories.order(db)
        await client.next("1")
        text = (await server.client.get("/metrics")).text
    assert sample(text, "radflow_live_subscriptions") == 1
    assert sample(text, "radflow_live_events_published_total") >= 1
    assert sample(text, "radflow_live_broker_up") == 1
    assert sample(text, "radflow_outbox_unpublished_events") == 0
    async with asyncio.timeout(WAIT):  # the socket is closed: the subscription ends
        while (  # noqa: ASYNC110
            sample(
                (await server.client.get("/metrics")).text,
                "radflow_live_subscriptions",
            )
            != 0
        ):
            await asyncio.sleep(0.02)
