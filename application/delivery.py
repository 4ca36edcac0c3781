"""The delivery worker: every due notification to its channel's adapter, at least once.

One round claims a batch (each try counted and held before it is made: see
domain/services/notifications.py), renders each message for its channel, sends them through
the channel adapters (interfaces/notify: SMTP e-mail, a signed webhook, an SMS gateway), then
records each answer: SENT, or a retry after a doubling wait, or FAILED after the last try (the
dead-letter list, which supervisors see and retry). The clock runs a round on one replica at a
time.

What a message carries (docs/notifications.md): a channel that is not configured to carry PHI
gets a minimal text and a link, nothing that names the patient or the exam; the webhook body
carries ids only.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Protocol

from domain.db import Database, UnitOfWork
from domain.enums import NotificationChannel, NotificationTemplate
from domain.services.notifications import Outgoing, claim_due, record_failure, record_sent

SUBJECTS = {
    NotificationTemplate.APPOINTMENT_CONFIRMATION: "Your appointment is booked",
    NotificationTemplate.APPOINTMENT_REMINDER: "Reminder of your appointment",
    NotificationTemplate.PREP_INSTRUCTIONS: "How to prepare for your exam",
    NotificationTemplate.APPOINTMENT_CANCELLED: "Your appointment was cancelled",
    NotificationTemplate.RESULT_AVAILABLE: "A result is available",
    NotificationTemplate.CRITICAL_RESULT: "A critical result needs your acknowledgement",
    NotificationTemplate.CRITICAL_RESULT_ESCALATION: "Escalation: a critical result waits",
    NotificationTemplate.REPORT_AMENDED: "A report you received was amended",
    NotificationTemplate.SURVEY_INVITATION: "How was your visit?",
    NotificationTemplate.FOLLOW_UP_DUE: "A recommended follow-up is due",
    NotificationTemplate.STAT_UNASSIGNED: "A STAT study is on nobody's worklist",
    NotificationTemplate.FOLLOW_UP_OVERDUE: "Overdue: a recommended follow-up was not ordered",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Message:
    """One try of a notification as a channel sends it."""

    delivery_id: str
    notification_id: int
    attempt: int
    channel: NotificationChannel
    template: NotificationTemplate
    to: str | None  # e-mail address or phone number; None for the webhook
    subject: str
    text: str
    ids: Mapping[str, object]  # what the webhook carries: ids, never PHI


class DeliveryRefused(Exception):
    """A try failed; `permanent` when no later try could succeed."""

    def __init__(self, answer: str, *, permanent: bool = False) -> None:
        super().__init__(answer)
        self.answer = answer
        self.permanent = permanent


class ChannelAdapter(Protocol):
    """Sends one message over one channel: its answer, or `DeliveryRefused`."""

    async def send(self, message: Message) -> str: ...


@dataclass(frozen=True, slots=True)
class DeliveryPolicy:
    """Tries and waits, and what may go into a message."""

    max_attempts: int = 5
    backoff: timedelta = timedelta(seconds=30)
    max_backoff: timedelta = timedelta(hours=1)
    lease: timedelta = timedelta(seconds=60)  # a try not recorded by then is made again
    batch: int = 100
    phi_channels: frozenset[NotificationChannel] = frozenset()
    link_base: str | None = None
    # A survey invitation's signed link, by its notification id (application/surveys.py);
    # None: no survey address or key is configured and invitations cannot be sent.
    survey_link: Callable[[int], str] | None = None


def render(outgoing: Outgoing, policy: DeliveryPolicy) -> Message:
    """The message of one try, for its channel (details only where PHI is allowed)."""
    subject = SUBJECTS.get(outgoing.template, "A message from radiology")
    lines = [f"{subject}."]
    if outgoing.channel in policy.phi_channels:
        lines += [f"{key}: {value}" for key, value in sorted(outgoing.payload.items())]
    if outgoing.template == NotificationTemplate.SURVEY_INVITATION:
        if policy.survey_link is None:
            raise DeliveryRefused(
                "no survey address configured (RADFLOW_SURVEY_URL or RADFLOW_NOTIFY_LINK_BASE)",
                permanent=True,
            )
        lines.append(
            f"Answer in two minutes, no sign-in: {policy.survey_link(outgoing.notification_id)}"
        )
    elif policy.link_base:
        lines.append(f"Details: {policy.link_base.rstrip('/')}/messages/{outgoing.delivery_id}")
    to = outgoing.email if outgoing.channel == NotificationChannel.EMAIL else outgoing.phone
    return Message(
        delivery_id=outgoing.delivery_id,
        notification_id=outgoing.notification_id,
        attempt=outgoing.attempt,
        channel=outgoing.channel,
        template=outgoing.template,
        to=to,
        subject=subject,
        text="\n".join(lines),
        ids={
            "deliveryId": outgoing.delivery_id,
            "notificationId": outgoing.notification_id,
            "attempt": outgoing.attempt,
            "template": outgoing.template.value,
            "channel": outgoing.channel.value,
            "recipientKind": outgoing.recipient_kind,
            "recipientId": outgoing.recipient_id,
            "examId": outgoing.exam_id,
        },
    )


@dataclass(frozen=True, slots=True)
class Round:
    """What one delivery round did."""

    sent: int = 0
    retrying: int = 0
    failed: int = 0

    def __str__(self) -> str:
        return f"{self.sent} sent, {self.retrying} to retry, {self.failed} failed"


class Delivery:
    """Sends the due notifications of the channels that have an adapter."""

    def __init__(
        self,
        db: Database,
        adapters: Mapping[NotificationChannel, ChannelAdapter],
        policy: DeliveryPolicy,
    ) -> None:
        self.db = db
        self.adapters = dict(adapters)
        self.policy = policy

    @property
    def channels(self) -> Collection[NotificationChannel]:
        return frozenset(self.adapters)

    async def run_once(self) -> Round:
        """Claim one batch, send it, record every answer."""
        policy = self.policy
        claimed = await self.db.run(
            lambda uow: claim_due(
                uow, channels=self.channels, limit=policy.batch, lease=policy.lease
            )
        )
        answers = await asyncio.gather(*(self._send(o) for o in claimed))
        if not claimed:
            return Round()
        # Every answer of the round in one transaction (a crash before it leaves the whole
        # round to be sent again: at least once).
        return await self.db.run(partial(self._record, claimed, answers))

    def _record(
        self,
        claimed: list[Outgoing],
        answers: list[tuple[str, DeliveryRefused | None]],
        uow: UnitOfWork,
    ) -> Round:
        policy = self.policy
        sent = retrying = failed = 0
        for outgoing, (answer, refused) in zip(claimed, answers, strict=True):
            if refused is None:
                record_sent(uow, notification_id=outgoing.notification_id, answer=answer)
                sent += 1
                continue
            row = record_failure(
                uow,
                notification_id=outgoing.notification_id,
                answer=refused.answer,
                permanent=refused.permanent,
                max_attempts=policy.max_attempts,
                backoff=policy.backoff,
                max_backoff=policy.max_backoff,
            )
            if row is not None and row.failed_at is not None:
                failed += 1
            else:
                retrying += 1
        return Round(sent, retrying, failed)

    async def _send(self, outgoing: Outgoing) -> tuple[str, DeliveryRefused | None]:
        try:
            message = render(outgoing, self.policy)
            return await self.adapters[outgoing.channel].send(message), None
        except DeliveryRefused as refused:
            return refused.answer, refused
        except Exception as exc:  # an adapter's bug or an unexpected transport error: retry
            return "", DeliveryRefused(f"{type(exc).__name__}: {exc}")
