"""REST-hook delivery: each active subscription walks the outbox from its own cursor.

The cursor and backoff of every outbound interface (`interfaces.cursors`, as the HL7 sender's):
a position per subscription in `outbound_cursors`, moved only once the endpoint answered 2xx;
a refusal, an error or no answer holds the queue (in event order) and is tried again after
1 s, 2 s, 4 s, ... up to 5 minutes, the subscription showing status `error` and why until a
delivery succeeds. An event that does not concern the subscription (another resource, a
resource the owner may not see, the criteria not matching now) just moves the cursor. Each
notification that carries a resource is audited as a disclosure to the owner's endpoint. Runs
on the balancer's leader.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from urllib.parse import urlsplit

import httpx
import sqlalchemy as sa
from fhir.resources.R4B.resource import Resource
from sqlalchemy.orm import Session
from sqlmodel import col

from application.planning.leadership import Leadership
from domain import audit
from domain.db import Database, UnitOfWork
from domain.models import FhirSubscription, OutboundCursor, OutboxEvent
from interfaces import cursors
from interfaces.fhir.reads import search_page
from interfaces.fhir.subscriptions import (
    criteria_of,
    cursor_name,
    owner_of,
    triggered,
)

log = logging.getLogger("radflow.fhir.notify")

SCAN = 200  # outbox events looked at per step (the ones a subscription skips are cheap)
ACTIVE_SECONDS = 60.0


class Notifier:
    """Delivers every active subscription's notifications, one event at a time each."""

    def __init__(self, db: Database, *, timeout: float = 10.0, poll_seconds: float = 2.0) -> None:
        self.db = db
        self.timeout = timeout
        self.poll_seconds = poll_seconds
        self.wake = asyncio.Event()
        self.waiting = False  # a subscription is held in its backoff: poll for it
        self._task: asyncio.Task[None] | None = None
        self._client: httpx.AsyncClient | None = None
        self._active: list[int] | None = None  # the subscriptions known, and since when
        self._active_at = 0.0

    def notice(self) -> None:
        """An event committed: look now rather than at the next poll."""
        self.wake.set()

    def refresh(self) -> None:
        """A subscription was created or deleted here: read the list again, now."""
        self._active = None
        self.wake.set()

    async def active(self) -> list[int]:
        """The subscriptions to serve: read again after `refresh` or once a minute (one made on
        another replica), never on an idle poll, so a department without subscriptions costs
        no statement."""
        if self._active is None or time.monotonic() - self._active_at > ACTIVE_SECONDS:
            self._active = await self.db.read(
                lambda s: list[int](
                    s.scalars(
                        sa.select(col(FhirSubscription.id))
                        .where(col(FhirSubscription.status) != "off")
                        .order_by(col(FhirSubscription.id))
                    )
                )
            )
            self._active_at = time.monotonic()
        return self._active

    async def step(self) -> bool:
        """One step of every active subscription; True when any moved (step again now)."""
        moved, self.waiting = False, False
        for subscription_id in await self.active():
            moved = await self.step_one(subscription_id) or moved
        return moved

    async def step_one(self, subscription_id: int) -> bool:
        """Deliver (or skip) the subscription's next event if one is due."""
        now = self.db.clock()
        name = cursor_name(subscription_id)
        found = await self.db.read(lambda s: _state(s, subscription_id, name))
        if found is None:
            return False
        subscription, cursor = found
        if cursors.held(cursor, now):
            self.waiting = True
            return False
        trail = audit.Trail(
            actor=owner_of(subscription),
            client_address=urlsplit(subscription.endpoint).hostname,
            operation=f"FHIR notify Subscription/{subscription_id}",
            action=audit.AuditAction.READ,
        )
        step = await self.db.read(lambda s: _next(s, subscription, cursor.position, trail))
        if step is None:
            return False
        event_id, resource = step
        if resource is None:
            await self.db.run(lambda uow: _advance(uow, subscription_id, event_id, False))
            return True
        trail.operation += f" {resource.get_resource_type()}/{resource.id}"
        try:
            await self._post(subscription, resource)
        except (httpx.HTTPError, OSError) as exc:
            reason = f"{type(exc).__name__}: {exc}"[:500]
            log.warning(
                "FHIR Subscription/%d: event %d not delivered (%s)",
                subscription_id,
                event_id,
                reason,
            )
            await self.db.run(lambda uow: _failed(uow, subscription_id, reason))
            self.waiting = True
            return False
        await self.db.write_audit(trail)  # patient data went to the owner's endpoint
        await self.db.run(lambda uow: _advance(uow, subscription_id, event_id, True))
        return True

    async def _post(self, subscription: FhirSubscription, resource: Resource) -> None:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self.timeout, follow_redirects=False)
        headers = {"Content-Type": "application/fhir+json"}
        for header in subscription.headers:
            key, _, value = header.partition(":")
            headers[key.strip()] = value.strip()
        body = resource.model_dump_json() if subscription.payload else ""
        response = await self._client.post(subscription.endpoint, content=body, headers=headers)
        response.raise_for_status()

    async def run(self, leadership: Leadership) -> None:
        """Step while leading: after each event notice, and on each poll only while a
        subscription waits out its backoff."""
        due = True  # at the start: subscriptions may be behind
        try:
            while True:
                if leadership.leading and (due or self.waiting):
                    due = False
                    try:
                        if await self.step():
                            due = True
                            continue
                    except Exception:  # the database is away: try again after the poll
                        log.exception("FHIR notifications: step failed")
                        due = True
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wake.wait(), self.poll_seconds)
                due = due or self.wake.is_set()
                self.wake.clear()
        finally:
            await self._close()

    async def _close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def start(self, leadership: Leadership) -> None:
        self._task = asyncio.create_task(self.run(leadership))

    async def stop(self) -> None:
        """Stop delivering (and hang up on the endpoints)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._close()


def _state(
    session: Session, subscription_id: int, name: str
) -> tuple[FhirSubscription, OutboundCursor] | None:
    subscription = session.get(FhirSubscription, subscription_id)
    cursor = session.get(OutboundCursor, name)
    if subscription is None or cursor is None or subscription.status == "off":
        return None
    return subscription, cursor


def _next(
    session: Session, subscription: FhirSubscription, position: int, trail: audit.Trail
) -> tuple[int, Resource | None] | None:
    """The next event after `position` and the resource to post for it (None: skip up to the
    event id); None when the outbox holds nothing newer."""
    events = list(
        session.scalars(
            sa.select(OutboxEvent)
            .where(col(OutboxEvent.id) > position)
            .order_by(col(OutboxEvent.id))
            .limit(SCAN)
        )
    )
    if not events:
        return None
    owner = owner_of(subscription)
    kind, where = criteria_of(subscription.criteria, owner)
    for event in events:
        status = triggered(kind.name, event)
        if status is None:
            continue
        assert event.id is not None and event.exam_id is not None
        page = search_page(
            session, kind, owner, [*where, kind.key == event.exam_id], after=0, count=1, trail=trail
        )
        found = page.resources[0] if page.resources else None
        still = found is not None and getattr(found, "status", None) == status
        return event.id, (found if still else None)
    last = events[-1].id
    assert last is not None
    return last, None


def _advance(uow: UnitOfWork, subscription_id: int, position: int, delivered: bool) -> None:
    moved = cursors.advance(uow, cursor_name(subscription_id), position, delivered=delivered)
    subscription = uow.session.get(FhirSubscription, subscription_id)
    if moved and delivered and subscription is not None and subscription.status == "error":
        subscription.status, subscription.error = "active", None


def _failed(uow: UnitOfWork, subscription_id: int, reason: str) -> None:
    held = cursors.failed(uow, cursor_name(subscription_id), reason)
    subscription = uow.session.get(FhirSubscription, subscription_id)
    if held is not None and subscription is not None and subscription.status != "off":
        subscription.status, subscription.error = "error", reason
