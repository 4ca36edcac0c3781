"""With nothing but the served app up, an unacknowledged critical result escalates on the clock
and its messages reach a webhook receiver; supervisors see the work and the dead letters."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from api.app import create_app
from api.relay import to_global_id
from application.settings import Settings
from domain.db import Database
from domain.enums import CriticalLevel, ExamStatus, NotificationStatus, NotificationTemplate
from domain.models import Notification
from tests.conftest import Api, Clock, on_loopback
from tests.factories import drive, order, reference

pytestmark = pytest.mark.usefixtures("backend")
WAIT = 30.0

STATUS = """{ operationsStatus {
  scheduledWork { kind dueAt runs lastOutcome claimedBy }
  channels { channel queued sent failed served }
  deadLetters { id template attempts lastAnswer deliveryId status }
} }"""
RETRY = """mutation($id: ID!) { retryNotification(input: {notificationId: $id}) {
  __typename
  ... on NotificationRequeued { notification { status attempts } }
  ... on ValidationFailed { code }
} }"""


async def until(condition: Callable[[], Awaitable[Any]], clock: Clock) -> Any:
    """Wait for `condition`, moving the test clock on a second per look (the app's clock
    reads it), for at most WAIT seconds of real time."""
    async with asyncio.timeout(WAIT):
        while not (found := await condition()):
            clock.advance(seconds=1)
            await asyncio.sleep(0.02)
    return found


async def test_an_overdue_critical_result_escalates_and_is_delivered_by_the_served_app(
    db: Database, clock: Clock
) -> None:
    await reference(db)
    exam = await drive(
        db, await order(db), ExamStatus.COMMUNICATED, critical=CriticalLevel.CRITICAL
    )
    clock.advance(minutes=61)  # past the critical window, nobody acknowledged
    received: list[dict[str, Any]] = []

    async def hook(request: Request) -> Response:
        received.append(await request.json())
        if received[-1]["template"] == NotificationTemplate.CRITICAL_RESULT_ESCALATION:
            return JSONResponse({"ok": True})
        return JSONResponse({"refused": True}, status_code=400)  # refused for good

    receiver = Starlette(routes=[Route("/hook", hook, methods=["POST"])])
    async with on_loopback(receiver) as hook_port:
        settings = Settings(
            database_url=str(db.url),
            RADFLOW_BALANCER=False,
            RADFLOW_CLOCK_POLL=0.02,
            RADFLOW_WEBHOOK_URL=f"http://127.0.0.1:{hook_port}/hook",
            RADFLOW_WEBHOOK_SECRET="s",
        )
        async with (
            on_loopback(create_app(settings, db=db)) as port,
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client,
        ):
            api = Api(client, db)

            async def escalation_sent() -> bool:
                rows = await db.read(
                    lambda s: list(
                        s.scalars(
                            sa.select(Notification).where(
                                Notification.template  # type: ignore[arg-type]
                                == NotificationTemplate.CRITICAL_RESULT_ESCALATION
                            )
                        )
                    )
                )
                return bool(rows) and rows[0].status == NotificationStatus.SENT

            await until(escalation_sent, clock)

            status = (await api.data(STATUS))["operationsStatus"]
            assert isinstance(status, dict)
            work = {w["kind"]: w for w in status["scheduledWork"]}
            assert {"escalate_results", "deliver_notifications"} <= set(work)
            assert work["escalate_results"]["runs"] >= 1
            (dead,) = status["deadLetters"]  # the first critical notice, refused for good
            assert dead["template"] == "CRITICAL_RESULT" and dead["lastAnswer"].startswith("400")
            assert {"channel": "PHONE", "queued": 0, "sent": 1, "failed": 1, "served": True} in (
                status["channels"]
            )
            assert [r["examId"] for r in received] == [exam.id, exam.id]

            again = await api.data(RETRY, {"id": dead["id"]})
            assert again["retryNotification"] == {
                "__typename": "NotificationRequeued",
                "notification": {"status": "QUEUED", "attempts": 0},
            }
            twice = await api.data(RETRY, {"id": to_global_id("Notification", 10**6)})
            assert twice["retryNotification"]["__typename"] == "NotFound"  # type: ignore[index]
            refused = await api.graphql(RETRY, {"id": dead["id"]}, actor=("desk", "scheduler"))
            assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"  # type: ignore[index]
