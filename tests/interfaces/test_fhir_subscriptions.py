"""FHIR REST-hook subscriptions: created over /fhir, delivered from the outbox to a real HTTP
endpoint on loopback, held and retried while the endpoint refuses, never doubled."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
import sqlalchemy as sa
from fhir.resources.R4B import get_fhir_model_class
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from api.permissions import MATRIX
from domain.db import Database
from domain.enums import ExamStatus
from domain.models import FhirSubscription, OutboundCursor
from interfaces.fhir.notify import Notifier
from interfaces.fhir.subscriptions import SUBSCRIBERS, cursor_name, endpoint_allowed, store
from tests.conftest import Api, Clock, on_loopback, token_for
from tests.factories import drive, order, reference

SQLITE = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
INTEGRATION = ("epic.fhir", "integration")


class Endpoint:
    """A subscriber's REST hook: keeps what it is posted; answers 500 to the first `refuse`."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], dict[str, Any]]] = []
        self.refuse = 0
        self.arrived = asyncio.Event()
        self.app = Starlette(routes=[Route("/hook", self.hook, methods=["POST"])])

    async def hook(self, request: Request) -> Response:
        if self.refuse > 0:
            self.refuse -= 1
            return Response(status_code=500)
        body = await request.json()
        get_fhir_model_class(body["resourceType"]).model_validate(body)
        self.received.append((dict(request.headers), body))
        self.arrived.set()
        return Response(status_code=200)


@pytest.fixture
async def endpoint() -> AsyncIterator[tuple[Endpoint, str]]:
    hook = Endpoint()
    async with on_loopback(hook.app) as port:
        yield hook, f"http://127.0.0.1:{port}/hook"


def subscription(url: str, criteria: str) -> dict[str, Any]:
    return {
        "resourceType": "Subscription",
        "status": "requested",
        "reason": "results to the EHR",
        "criteria": criteria,
        "channel": {
            "type": "rest-hook",
            "endpoint": url,
            "payload": "application/fhir+json",
            "header": ["Authorization: Bearer ehr-secret"],
        },
    }


async def call(
    api: Api, method: str, path: str, actor: tuple[str, str], body: Any = None
) -> tuple[int, dict[str, Any]]:
    response = await api.client.request(
        method,
        f"/fhir/{path}",
        json=body,
        headers={"Authorization": f"Bearer {token_for(*actor)}"},
    )
    return response.status_code, response.json() if response.content else {}


def test_who_may_subscribe_is_who_follows_the_department_on_graphql() -> None:
    assert MATRIX["Subscription.examStatusChanged"] == SUBSCRIBERS


@SQLITE
async def test_radflow_serve_posts_each_final_report_to_the_subscriber(
    api: Api, db: Database, endpoint: tuple[Endpoint, str]
) -> None:
    hook, url = endpoint
    await reference(db)
    refused, outcome = await call(
        api, "POST", "Subscription", ("REF01", "referrer"), subscription(url, "DiagnosticReport")
    )
    assert refused == 403 and outcome["issue"][0]["code"] == "forbidden"
    bad, outcome = await call(
        api, "POST", "Subscription", INTEGRATION, subscription(url, "Observation?code=x")
    )
    assert bad == 400 and outcome["issue"][0]["expression"] == ["Subscription.criteria"]
    bad, outcome = await call(
        api, "POST", "Subscription", INTEGRATION, subscription(url, "DiagnosticReport?colour=1")
    )
    assert bad == 400 and outcome["issue"][0]["expression"] == ["Subscription.criteria"]
    for elsewhere in ("http://10.0.0.7:8080/hook", "http://127.0.0.1@10.0.0.7/hook"):
        bad, outcome = await call(
            api, "POST", "Subscription", INTEGRATION, subscription(elsewhere, "DiagnosticReport")
        )
        assert bad == 422, elsewhere
        assert outcome["issue"][0]["expression"] == ["Subscription.channel.endpoint"]
    created, made = await call(
        api,
        "POST",
        "Subscription",
        INTEGRATION,
        subscription(url, "DiagnosticReport?status=final,amended"),
    )
    assert created == 201 and made["status"] == "active", made
    assert (await call(api, "GET", f"Subscription/{made['id']}", INTEGRATION))[0] == 200
    assert (await call(api, "GET", f"Subscription/{made['id']}", ("sup", "supervisor")))[0] == 404

    exam = await drive(db, await order(db), ExamStatus.FINAL)
    while not hook.received:
        await asyncio.wait_for(hook.arrived.wait(), 60)
        hook.arrived.clear()
    ((headers, report),) = hook.received
    assert headers["authorization"] == "Bearer ehr-secret"
    assert (report["resourceType"], report["id"], report["status"]) == (
        "DiagnosticReport",
        str(exam.id),
        "final",
    )
    assert "display" not in report["subject"]  # built for the integration, without PHI

    deleted, _ = await call(api, "DELETE", f"Subscription/{made['id']}", INTEGRATION)
    assert deleted == 204
    assert (await call(api, "GET", f"Subscription/{made['id']}", INTEGRATION))[0] == 404
    cursor = await db.read(lambda s: s.get(OutboundCursor, cursor_name(int(made["id"]))))
    assert cursor is None  # outbox pruning no longer waits for it


async def test_a_refusing_endpoint_holds_the_notification_until_it_takes_it_once(
    db: Database, clock: Clock, endpoint: tuple[Endpoint, str]
) -> None:
    hook, url = endpoint
    await reference(db)
    row = FhirSubscription(
        owner="epic.fhir",
        role="integration",
        phi=False,
        sites=[],
        criteria="ServiceRequest?status=revoked",
        endpoint=url,
        headers=[],
        payload="application/fhir+json",
        status="active",
    )
    stored = await db.run(lambda uow: store(uow, row))
    assert stored.id is not None
    withdrawn = await drive(db, await order(db), ExamStatus.CANCELLED)
    await order(db)  # active: not what the subscriber asked for
    hook.refuse = 1
    notifier = Notifier(db)
    try:
        while await notifier.step():  # skips what the subscriber did not ask for
            pass
        # ... until the withdrawal, which the endpoint refused: held, with why
        state = await db.read(lambda s: s.get(FhirSubscription, stored.id))
        assert state is not None and state.status == "error" and "500" in str(state.error)
        assert not await notifier.step()  # not before its backoff
        clock.advance(minutes=10)
        while await notifier.step():
            pass
    finally:
        await notifier.stop()
    ((_, request),) = hook.received  # the order placed, then withdrawn: told once, revoked
    assert (request["id"], request["status"]) == (str(withdrawn.id), "revoked")
    state = await db.read(lambda s: s.get(FhirSubscription, stored.id))
    assert state is not None and (state.status, state.error) == ("active", None)
    audited = await db.read(
        lambda s: s.scalar(
            sa.text("SELECT operation FROM audit_events WHERE operation LIKE 'FHIR notify%'")
        )
    )
    assert audited == f"FHIR notify Subscription/{stored.id} ServiceRequest/{withdrawn.id}"


def test_an_endpoint_must_lie_under_an_allowed_base() -> None:
    allowed = ("https://ehr.example.org/hooks/", "http://127.0.0.1")
    assert endpoint_allowed("https://ehr.example.org/hooks/radiology", allowed)
    assert endpoint_allowed("http://127.0.0.1:8123/anything", allowed)  # any port on loopback
    assert not endpoint_allowed("https://ehr.example.org/admin", allowed)  # outside the path
    assert not endpoint_allowed("http://ehr.example.org/hooks/x", allowed)  # another scheme
    assert not endpoint_allowed("https://ehr.example.org.evil.net/hooks/", allowed)
    assert not endpoint_allowed("http://127.0.0.1@10.0.0.7/", allowed)  # credentials trick
    assert not endpoint_allowed("http://127.0.0.1:99999/", allowed)  # no such port
    assert not endpoint_allowed("http://127.0.0.1/", ())  # nothing allowed: nowhere
