"""Operations mutations: a dead letter queued again."""

from __future__ import annotations

from typing import Annotated

import strawberry

from api.context import Info
from api.errors import NotFound, ValidationFailed, attempt
from api.operations.inputs import RetryNotificationInput
from api.operations.types import NotificationDelivery
from api.relay import decode_id
from domain.services import notifications


@strawberry.type
class NotificationRequeued:
    notification: NotificationDelivery


RetryNotificationResult = Annotated[
    NotificationRequeued | NotFound | ValidationFailed,
    strawberry.union("RetryNotificationResult"),
]


@strawberry.type
class OperationsMutations:
    @strawberry.mutation(
        description="Queue a FAILED notification again (tries counted afresh, same delivery id)."
    )
    async def retry_notification(
        self, info: Info, input: RetryNotificationInput
    ) -> RetryNotificationResult:
        actor = info.context.actor

        async def run() -> NotificationRequeued:
            pk = decode_id(input.notification_id, "Notification", field="notification_id")
            row = await info.context.commands.run(
                "retryNotification",
                lambda uow: notifications.retry_notification(
                    uow=uow, actor=actor, notification_id=pk
                ),
            )
            return NotificationRequeued(notification=NotificationDelivery.from_model(row))

        return await attempt(
            run, sent={"notification_id": input.notification_id}, errors=NotFound | ValidationFailed
        )
