"""Subscription (R4 REST hook): create, read, search and delete; what a notification carries.

A subscription's criteria is a search on DiagnosticReport or ServiceRequest in the same
parameters as /fhir's searches (e.g. `DiagnosticReport?status=final,amended`). When an exam's
report is signed or amended (DiagnosticReport), or its order's FHIR status changes
(ServiceRequest), the criteria is evaluated for that resource *as the subscription's owner*
and, when it matches, the resource is POSTed to the endpoint (see `interfaces.fhir.notify`).
Who may subscribe: the roles of GraphQL's whole-department `examStatusChanged` stream.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import sqlalchemy as sa
from fhir.resources.R4B.subscription import Subscription
from pydantic import ValidationError
from sqlalchemy.orm import Session
from sqlmodel import col

from application.authorization import ADMIN, INTEGRATION, SCHEDULER, SUPERVISOR, roles
from domain.db import UnitOfWork
from domain.enums import ExamStatus, Role
from domain.lifecycle import Actor
from domain.models import FhirSubscription, OutboundCursor, OutboxEvent
from interfaces import cursors
from interfaces.fhir.codes import REQUEST_STATUS
from interfaces.fhir.kind import ResourceType, instant
from interfaces.fhir.outcome import FhirError, Issue, invalid_resource
from interfaces.fhir.resources import RESOURCES
from interfaces.fhir.search import conditions

SUBSCRIBERS = roles(SCHEDULER, SUPERVISOR, INTEGRATION, ADMIN)
PROTOCOL = "FHIR"
PAYLOADS = ("application/fhir+json", "application/json")
MAX_HEADERS = 10
# The outbox events that change a DiagnosticReport's status, and the status they leave.
REPORT_EVENTS = {
    "ReportSignedPreliminary": "preliminary",
    "ReportSignedFinal": "final",
    "ReportAmended": "amended",
}
SUBSCRIBABLE = ("DiagnosticReport", "ServiceRequest")


def cursor_name(subscription_id: int) -> str:
    """The subscription's delivery position among the outbound cursors."""
    return f"FHIR/Subscription/{subscription_id}"


def triggered(resource: str, event: OutboxEvent) -> str | None:
    """The status a `resource` watched by a subscription had after this event (None: the
    event did not change it). A notification goes out only while the resource still has that
    status: a change overtaken by a later one is told by the later event, once."""
    if event.exam_id is None or event.status is None:
        return None
    if resource == "DiagnosticReport":
        return REPORT_EVENTS.get(event.type)
    before = (event.payload or {}).get("from_status")
    after = REQUEST_STATUS[ExamStatus(event.status)]
    if before is not None and REQUEST_STATUS[ExamStatus(before)] == after:
        return None
    return after


def owner_of(row: FhirSubscription) -> Actor:
    """Who a subscription's notifications are built for (as their token said at creation)."""
    return Actor(row.owner, Role(row.role), sites=frozenset(row.sites), phi=row.phi)


def criteria_of(text: str, actor: Actor) -> tuple[ResourceType, list[sa.ColumnElement[bool]]]:
    """The resource type and conditions of a criteria string (400 naming Subscription.criteria)."""
    name, _, query = text.partition("?")
    if name not in SUBSCRIBABLE:
        raise FhirError.one(
            400,
            "not-supported",
            f"criteria must search {' or '.join(SUBSCRIBABLE)}",
            "Subscription.criteria",
        )
    kind = RESOURCES[name]
    pairs = parse_qsl(query, keep_blank_values=True)
    hidden = {k for k, _ in pairs} & kind.phi_parameters
    if hidden and not actor.phi:
        raise FhirError.one(403, "forbidden", "criteria on PHI needs the phi claim")
    try:
        return kind, conditions(kind.name, dict(kind.parameters), pairs)
    except FhirError as error:
        raise FhirError(
            400, [Issue(i.code, i.diagnostics, "Subscription.criteria") for i in error.issues]
        ) from None


def endpoint_allowed(endpoint: str, allowed: Sequence[str]) -> bool:
    """Whether radflow may post to `endpoint`: same scheme and host as one allowed base (and
    its port, if it names one), under its path; never with credentials in the URL (which
    would let `http://allowed@elsewhere/` pass a plain prefix test)."""
    try:
        url = urlsplit(endpoint)
        port = url.port
    except ValueError:
        return False
    if url.username is not None or url.password is not None:
        return False
    for base in allowed:
        wanted = urlsplit(base)
        if (url.scheme, url.hostname) != (wanted.scheme, wanted.hostname):
            continue
        if wanted.port is not None and port != wanted.port:
            continue
        if url.path.startswith(wanted.path):
            return True
    return False


def parse_subscription(body: bytes, actor: Actor, allowed: Sequence[str]) -> FhirSubscription:
    """A new subscription from a request body, checked by the model library and radflow.

    `allowed` are the endpoints the department lets radflow post to
    (`RADFLOW_FHIR_SUBSCRIPTION_ENDPOINTS`): a subscriber names where the server sends
    requests, so without the list anyone who may subscribe could aim it inside the network.
    """
    try:
        document = json.loads(body)
        resource = Subscription.model_validate(document)
    except ValidationError as error:
        raise invalid_resource("Subscription", error) from None
    except ValueError:
        raise FhirError.one(400, "structure", "the body is not a JSON Subscription") from None
    channel = resource.channel
    if resource.status not in ("requested", "active"):
        raise FhirError.one(422, "value", "a new subscription is requested", "Subscription.status")
    if channel.type != "rest-hook":
        raise FhirError.one(
            422, "not-supported", "radflow delivers rest-hook only", "Subscription.channel.type"
        )
    endpoint = str(channel.endpoint or "")
    criteria = resource.criteria or ""
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.netloc or len(endpoint) > 500:
        raise FhirError.one(
            422,
            "value",
            "an http(s) URL of at most 500 characters",
            "Subscription.channel.endpoint",
        )
    if not endpoint_allowed(endpoint, allowed):
        raise FhirError.one(
            422,
            "value",
            "radflow posts only to the endpoints the department allows "
            "(RADFLOW_FHIR_SUBSCRIPTION_ENDPOINTS); this one is not among them",
            "Subscription.channel.endpoint",
        )
    if channel.payload is not None and channel.payload not in PAYLOADS:
        raise FhirError.one(
            422, "not-supported", "payload is application/fhir+json", "Subscription.channel.payload"
        )
    headers = [h for h in channel.header or [] if h]
    if len(headers) > MAX_HEADERS or any(":" not in h or "\n" in h for h in headers):
        raise FhirError.one(
            422, "value", "headers are `Name: value`, at most 10", "Subscription.channel.header"
        )
    if len(criteria) > 500:
        raise FhirError.one(422, "too-long", "at most 500 characters", "Subscription.criteria")
    criteria_of(criteria, actor)
    return FhirSubscription(
        owner=actor.id,
        role=actor.role.value,
        phi=actor.phi,
        sites=sorted(actor.sites),
        criteria=criteria,
        endpoint=endpoint,
        headers=headers,
        payload=channel.payload,
        status="active",
    )


def store(uow: UnitOfWork, subscription: FhirSubscription) -> FhirSubscription:
    """Keep the subscription and its delivery cursor, from the newest event on."""
    subscription.created_at = uow.now
    uow.add(subscription)
    uow.flush()
    assert subscription.id is not None
    cursors.open_cursor(uow, cursor_name(subscription.id), PROTOCOL)
    return subscription


def owned(session: Session, actor: Actor, subscription_id: int | None) -> list[FhirSubscription]:
    """The caller's subscriptions (an admin's: everyone's), one or all, not deleted."""
    query = sa.select(FhirSubscription).where(col(FhirSubscription.status) != "off")
    if actor.role is not Role.ADMIN:
        query = query.where(col(FhirSubscription.owner) == actor.id)
    if subscription_id is not None:
        query = query.where(col(FhirSubscription.id) == subscription_id)
    return list(session.scalars(query.order_by(col(FhirSubscription.id)).limit(100)))


def remove(uow: UnitOfWork, actor: Actor, subscription_id: int) -> bool:
    """Switch a subscription off and drop its cursor (pruning no longer waits for it)."""
    found = owned(uow.session, actor, subscription_id)
    if not found:
        return False
    found[0].status = "off"
    uow.session.execute(
        sa.delete(OutboundCursor).where(
            col(OutboundCursor.destination) == cursor_name(subscription_id)
        )
    )
    return True


def as_resource(row: FhirSubscription) -> Subscription:
    """The stored subscription as a FHIR Subscription."""
    channel: dict[str, Any] = {"type": "rest-hook", "endpoint": row.endpoint}
    if row.payload:
        channel["payload"] = row.payload
    if row.headers:
        channel["header"] = list(row.headers)
    document: Mapping[str, Any] = {
        "resourceType": "Subscription",
        "id": str(row.id),
        "status": row.status,
        "reason": f"created by {row.owner} ({row.role}) at {instant(row.created_at)}",
        "criteria": row.criteria,
        "channel": channel,
        **({"error": row.error} if row.error else {}),
    }
    return Subscription.model_validate(document)
