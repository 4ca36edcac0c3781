"""The operations query: what the clock runs and how notifications are delivered."""

from __future__ import annotations

import sqlalchemy as sa
import strawberry
from sqlalchemy.orm import Session
from sqlmodel import col

from api.context import Info
from api.operations.types import (
    ChannelQueue,
    NotificationDelivery,
    OperationsStatus,
    RetainedTable,
    ScheduledWork,
)
from application.operations import retention_of
from application.pruning import kept
from domain import models as m
from domain.enums import NotificationChannel, NotificationStatus
from domain.models._columns import core_table
from interfaces.notify.adapters import served_channels

DEAD_LETTERS = 50
NOTIFICATIONS = core_table(m.Notification)


@strawberry.type
class OperationsQueries:
    @strawberry.field(
        description="The clock's timed work (due times, claims, last outcomes), the "
        "notification queue by channel and the dead-letter list."
    )
    async def operations_status(self, info: Info) -> OperationsStatus:
        served = served_channels(info.context.settings)
        retention = retention_of(info.context.settings)

        def query(session: Session) -> OperationsStatus:
            work = session.scalars(sa.select(m.ScheduledWork).order_by(col(m.ScheduledWork.kind)))
            counts: dict[tuple[NotificationChannel, NotificationStatus], int] = {
                (channel, status): int(n)
                for channel, status, n in session.execute(
                    sa.select(
                        NOTIFICATIONS.c.channel, NOTIFICATIONS.c.status, sa.func.count()
                    ).group_by(NOTIFICATIONS.c.channel, NOTIFICATIONS.c.status)
                )
            }
            dead = session.scalars(
                sa.select(m.Notification)
                .where(col(m.Notification.status) == NotificationStatus.FAILED)
                .order_by(col(m.Notification.failed_at).desc(), col(m.Notification.id).desc())
                .limit(DEAD_LETTERS)
            )
            return OperationsStatus(
                scheduled_work=[ScheduledWork.from_model(w) for w in work],
                channels=[
                    ChannelQueue(
                        channel=channel,
                        queued=counts.get((channel, NotificationStatus.QUEUED), 0),
                        sent=counts.get((channel, NotificationStatus.SENT), 0),
                        failed=counts.get((channel, NotificationStatus.FAILED), 0),
                        cancelled=counts.get((channel, NotificationStatus.CANCELLED), 0),
                        served=channel in served,
                    )
                    for channel in NotificationChannel
                ],
                dead_letters=[NotificationDelivery.from_model(n) for n in dead],
                retention=[RetainedTable.from_domain(k) for k in kept(session, retention)],
            )

        return await info.context.db.read(query, bounded=True)
