"""Notifications: what a delivery worker claims, what it records, and what cancels a message.

A notification is QUEUED until a channel adapter took it (SENT), it failed its last try or
could never be sent (FAILED), or what it announced no longer holds (CANCELLED). Delivery is at
least once: a try is counted and the row claimed until `claimed_until` *before* anything is
sent, in a transaction of its own, so a sender that dies mid-send leaves the row to be claimed
again when the claim lapses, with the same delivery id (the receiver's de-duplication key).
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from domain.enums import NotificationChannel, NotificationStatus, NotificationTemplate, Role
from domain.errors import FieldIssue, IssueCode, NotFound, ValidationFailed
from domain.lifecycle import Actor
from domain.models import Notification, Patient, Referrer
from domain.repositories import UnitOfWork
from domain.services._common import require_role
from domain.services.results import record_reached
from domain.types import pk

# What a new booking replaces: the old appointment's messages not yet sent.
BOOKING_MESSAGES = frozenset(
    {
        NotificationTemplate.APPOINTMENT_CONFIRMATION,
        NotificationTemplate.APPOINTMENT_REMINDER,
        NotificationTemplate.PREP_INSTRUCTIONS,
    }
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Outgoing:
    """One claimed try of a notification, with what its adapter needs to send it."""

    notification_id: int
    delivery_id: str
    attempt: int
    channel: NotificationChannel
    template: NotificationTemplate
    recipient_kind: str
    recipient_id: int
    exam_id: int | None
    email: str | None
    phone: str | None
    payload: Mapping[str, Any]


def cancel_booking_messages(uow: UnitOfWork, exam_id: int, reason: str) -> int:
    """Cancel the exam's confirmation, reminder and prep messages still queued (the booking
    they announce was moved or cancelled); how many were cancelled."""
    queued = uow.notifications.queued_for(exam_id, BOOKING_MESSAGES)
    for notification in queued:
        notification.status = NotificationStatus.CANCELLED
        notification.cancelled_at = uow.now
        notification.last_answer = reason[:500]
    return len(queued)


def claim_due(
    uow: UnitOfWork,
    *,
    channels: Collection[NotificationChannel],
    limit: int,
    lease: timedelta,
) -> list[Outgoing]:
    """Claim up to `limit` due notifications on the channels a sender serves: each try
    counted before it is made, held for `lease`."""
    claimed = []
    for notification in uow.notifications.due(uow.now, limit, channels):
        notification.attempts += 1
        notification.claimed_until = uow.now + lease
        if notification.delivery_id is None:
            notification.delivery_id = str(uuid.uuid4())
        email, phone = _address(uow, notification)
        claimed.append(
            Outgoing(
                notification_id=pk(notification),
                delivery_id=notification.delivery_id,
                attempt=notification.attempts,
                channel=notification.channel,
                template=notification.template,
                recipient_kind=notification.recipient_kind,
                recipient_id=notification.recipient_id,
                exam_id=notification.exam_id,
                email=email,
                phone=phone,
                payload=dict(notification.payload),
            )
        )
    return claimed


def _address(uow: UnitOfWork, notification: Notification) -> tuple[str | None, str | None]:
    person: Patient | Referrer | None
    if notification.recipient_kind == "supervisor":  # the department's line (the webhook's)
        return None, None
    if notification.recipient_kind == "patient":
        person = uow.department.get(Patient, notification.recipient_id)
    else:
        person = uow.department.get(Referrer, notification.recipient_id)
    return (person.email, person.phone) if person is not None else (None, None)


def record_sent(uow: UnitOfWork, *, notification_id: int, answer: str) -> Notification | None:
    """The adapter took the message: SENT, with its answer (a message cancelled meanwhile
    stays CANCELLED; the answer is kept)."""
    notification = uow.notifications.get(notification_id)
    if notification is None:
        return None
    notification.claimed_until = None
    notification.last_answer = answer[:500]
    if notification.status == NotificationStatus.QUEUED:
        notification.status, notification.sent_at = NotificationStatus.SENT, uow.now
        record_reached(uow, notification)  # a result's message: who received it, how, when
    return notification


def record_failure(
    uow: UnitOfWork,
    *,
    notification_id: int,
    answer: str,
    permanent: bool,
    max_attempts: int,
    backoff: timedelta,
    max_backoff: timedelta,
) -> Notification | None:
    """A try failed: try again after a doubling wait, or FAILED (the dead-letter list) after
    the last try or at once when no try can succeed (no address, a refusal that will not
    change)."""
    notification = uow.notifications.get(notification_id)
    if notification is None:
        return None
    notification.claimed_until = None
    notification.last_answer = answer[:500]
    if notification.status != NotificationStatus.QUEUED:
        return notification
    if permanent or notification.attempts >= max_attempts:
        notification.status, notification.failed_at = NotificationStatus.FAILED, uow.now
        notification.next_attempt_at = None
    else:
        wait = min(backoff * 2 ** (notification.attempts - 1), max_backoff)
        notification.next_attempt_at = uow.now + wait
    return notification


def retry_notification(*, uow: UnitOfWork, actor: Actor, notification_id: int) -> Notification:
    """Put a FAILED notification back in the queue, its tries counted afresh (same delivery
    id, so a receiver that did get it can tell)."""
    require_role(actor, {Role.SUPERVISOR, Role.ADMIN}, "retry notifications")
    notification = uow.notifications.get(notification_id)
    if notification is None:
        raise NotFound("notification", field="notification_id")
    if notification.status != NotificationStatus.FAILED:
        raise ValidationFailed(
            [
                FieldIssue(
                    "notification_id",
                    IssueCode.NOT_OPEN,
                    f"only a FAILED notification can be retried; this one is "
                    f"{notification.status.value}",
                )
            ]
        )
    notification.status = NotificationStatus.QUEUED
    notification.attempts, notification.next_attempt_at = 0, None
    notification.failed_at, notification.claimed_until = None, None
    return notification
