"""The process's timed work, wired: the clock's jobs from the settings and the channel adapters.

What a transport's process starts and stops beside its planning (the API's lifespan today). The
adapters come from the transport (interfaces/notify builds them from the settings): the
application only knows their shape.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

from application import retention as study_retention
from application.clock import CLOCK_ACTOR, Clock, Job
from application.delivery import ChannelAdapter, Delivery, DeliveryPolicy
from application.planning.leadership import default_replica_id
from application.pruning import Retention, prune_all
from application.settings import Settings
from application.surveys import survey_link_for
from domain.db import Database
from domain.enums import NotificationChannel
from domain.services.escalation import escalate_overdue_results, escalate_uncommunicated_results
from domain.services.follow_ups import escalate_overdue_follow_ups
from domain.services.timed import (
    mark_unattended_no_shows,
    notify_follow_ups_due,
    track_follow_ups,
)

ESCALATE, DELIVER, NO_SHOWS, FOLLOW_UPS, TRACK_FOLLOW_UPS, RETENTION, EXPIRIES = (
    "escalate_results",
    "deliver_notifications",
    "mark_no_shows",
    "follow_ups_due",
    "track_follow_ups",
    "prune_retention",
    "work_out_expiries",
)


def retention_of(settings: Settings) -> Retention:
    """How long each kind of operational row is kept, from the settings."""
    return Retention(
        outbox=timedelta(hours=settings.outbox_retention_hours),
        notifications=timedelta(days=settings.notification_retention_days),
        scheduled_work=timedelta(days=settings.scheduled_work_retention_days),
        inbound_messages=timedelta(days=settings.hl7_idempotency_days),
    )


def delivery_for(
    db: Database, settings: Settings, adapters: Mapping[NotificationChannel, ChannelAdapter]
) -> Delivery:
    policy = DeliveryPolicy(
        max_attempts=settings.notify_max_attempts,
        backoff=timedelta(seconds=settings.notify_backoff_seconds),
        max_backoff=timedelta(seconds=settings.notify_max_backoff_seconds),
        lease=timedelta(seconds=settings.clock_lease_seconds),
        phi_channels=settings.phi_channel_set,
        link_base=settings.notify_link_base,
        survey_link=survey_link_for(settings, db.clock),
    )
    return Delivery(db, adapters, policy)


def jobs_for(db: Database, settings: Settings, delivery: Delivery | None) -> list[Job]:
    """The timed work this configuration asks for."""

    async def escalate() -> str:
        raised = await db.run(lambda uow: escalate_overdue_results(uow=uow, actor=CLOCK_ACTOR))
        untold = await db.run(
            lambda uow: escalate_uncommunicated_results(
                uow=uow, actor=CLOCK_ACTOR, windows=settings.result_windows
            )
        )
        return f"{len(raised)} unacknowledged and {len(untold)} uncommunicated escalated"

    overdue_every = timedelta(days=settings.follow_up_escalate_days)

    async def follow_ups() -> str:
        told = await db.run(lambda uow: notify_follow_ups_due(uow=uow))
        escalated = await db.run(
            lambda uow: escalate_overdue_follow_ups(uow=uow, actor=CLOCK_ACTOR, every=overdue_every)
        )
        return f"{len(told)} follow-ups due notified, {len(escalated)} overdue escalated"

    async def track() -> str:
        linked, completed = await db.run(lambda uow: track_follow_ups(uow=uow))
        return f"{len(linked)} follow-ups linked to an exam, {len(completed)} completed"

    async def expiries() -> str:
        # All of them: a corrected birth date or a re-filed exam changes an expiry too.
        worked = await db.run(lambda uow: study_retention.refresh_expiries(uow, everything=True))
        return f"{worked} stored studies' expiries worked out"

    kept_for = retention_of(settings)

    async def prune() -> str:
        return str(await db.run(lambda uow: prune_all(uow, kept_for)))

    jobs = [
        Job(ESCALATE, timedelta(seconds=settings.escalation_every_seconds), escalate),
        Job(RETENTION, timedelta(seconds=settings.retention_every_seconds), prune),
        Job(FOLLOW_UPS, timedelta(seconds=settings.follow_up_every_seconds), follow_ups),
        Job(TRACK_FOLLOW_UPS, timedelta(seconds=settings.follow_up_track_seconds), track),
        Job(EXPIRIES, timedelta(seconds=settings.expiry_every_seconds), expiries),
    ]
    if delivery is not None and delivery.adapters:

        async def deliver() -> str:
            return str(await delivery.run_once())

        jobs.append(Job(DELIVER, timedelta(seconds=settings.notify_every_seconds), deliver))
    if settings.no_show_grace_minutes is not None:
        grace = timedelta(minutes=settings.no_show_grace_minutes)

        async def no_shows() -> str:
            marked = await db.run(
                lambda uow: mark_unattended_no_shows(uow=uow, actor=CLOCK_ACTOR, grace=grace)
            )
            return f"{len(marked)} marked no-show"

        jobs.append(Job(NO_SHOWS, timedelta(minutes=1), no_shows))
    return jobs


def clock_for(
    db: Database, settings: Settings, adapters: Mapping[NotificationChannel, ChannelAdapter]
) -> Clock:
    """This process's clock (it runs nothing when RADFLOW_CLOCK is off)."""
    delivery = delivery_for(db, settings, adapters)
    jobs = jobs_for(db, settings, delivery) if settings.clock_enabled else []
    return Clock(
        db,
        jobs,
        replica=settings.replica_id or default_replica_id(),
        poll_seconds=settings.clock_poll_seconds,
        lease=timedelta(seconds=settings.clock_lease_seconds),
    )
