"""GraphQL types of the clock's work and of notification delivery."""

from __future__ import annotations

from datetime import datetime

import strawberry

from api.enums import NotificationChannel, NotificationStatus, NotificationTemplate
from api.relay import to_global_id
from application.pruning import Kept
from domain import models as m


@strawberry.type(description="One kind of timed work the clock runs, once across replicas.")
class ScheduledWork:
    kind: str = strawberry.field(
        description="escalate_results, deliver_notifications, mark_no_shows, follow_ups_due, "
        "track_follow_ups, prune_retention."
    )
    due_at: datetime = strawberry.field(description="When it runs next.")
    every_seconds: float
    claimed_by: str | None = strawberry.field(description="The replica running it now.")
    claimed_until: datetime | None = strawberry.field(
        description="When that claim lapses (a replica that died leaves it to the next)."
    )
    last_started_at: datetime | None
    last_finished_at: datetime | None
    last_outcome: str | None
    runs: int
    failures: int

    @classmethod
    def from_model(cls, row: m.ScheduledWork) -> ScheduledWork:
        return cls(
            kind=row.kind,
            due_at=row.due_at,
            every_seconds=row.every_seconds,
            claimed_by=row.claimed_by,
            claimed_until=row.claimed_until,
            last_started_at=row.last_started_at,
            last_finished_at=row.last_finished_at,
            last_outcome=row.last_outcome,
            runs=row.runs,
            failures=row.failures,
        )


@strawberry.type(description="A notification's delivery: its tries and the channel's answer.")
class NotificationDelivery:
    id: strawberry.ID
    channel: NotificationChannel
    template: NotificationTemplate
    recipient_kind: str
    status: NotificationStatus
    send_at: datetime
    attempts: int
    next_attempt_at: datetime | None
    delivery_id: str | None = strawberry.field(
        description="The same on every try: what a receiver de-duplicates on."
    )
    sent_at: datetime | None
    failed_at: datetime | None
    cancelled_at: datetime | None
    last_answer: str | None = strawberry.field(description="The channel adapter's last answer.")

    @classmethod
    def from_model(cls, row: m.Notification) -> NotificationDelivery:
        return cls(
            id=strawberry.ID(to_global_id("Notification", row.id or 0)),
            channel=row.channel,
            template=row.template,
            recipient_kind=row.recipient_kind,
            status=row.status,
            send_at=row.send_at,
            attempts=row.attempts,
            next_attempt_at=row.next_attempt_at,
            delivery_id=row.delivery_id,
            sent_at=row.sent_at,
            failed_at=row.failed_at,
            cancelled_at=row.cancelled_at,
            last_answer=row.last_answer,
        )


@strawberry.type(description="Notifications of one channel by status.")
class ChannelQueue:
    channel: NotificationChannel
    queued: int
    sent: int
    failed: int
    cancelled: int
    served: bool = strawberry.field(
        description="Whether an adapter is configured for the channel (if not, its "
        "notifications stay QUEUED)."
    )


@strawberry.type(
    description="One table the clock's prune_retention job keeps short: the rows its rule "
    "covers and the oldest of them (older than keepHours only until the next run, or while "
    "a cursor holds the outbox back)."
)
class RetainedTable:
    table: str = strawberry.field(
        description="event_outbox, notifications (SENT or CANCELLED), scheduled_work, "
        "inbound_messages."
    )
    keep_hours: float
    rows: int
    oldest_at: datetime | None
    held_by: str | None = strawberry.field(
        description="event_outbox: the cursor furthest behind (an HL7 destination, a FHIR "
        "subscription, the live relay); pruning stops at its position."
    )
    held_at: int | None
    pruned_through: int | None = strawberry.field(
        description="event_outbox: the newest event id pruned (resuming before it is refused)."
    )

    @classmethod
    def from_domain(cls, v: Kept) -> RetainedTable:
        return cls(
            table=v.table,
            keep_hours=v.keep.total_seconds() / 3600,
            rows=v.rows,
            oldest_at=v.oldest_at,
            held_by=v.held_by,
            held_at=v.held_at,
            pruned_through=v.pruned_through,
        )


@strawberry.type(description="Timed work and notification delivery, across replicas.")
class OperationsStatus:
    scheduled_work: list[ScheduledWork]
    channels: list[ChannelQueue]
    dead_letters: list[NotificationDelivery] = strawberry.field(
        description="FAILED notifications, most recent first (retryNotification queues one again)."
    )
    retention: list[RetainedTable]
