"""Inputs of the operations mutations."""

from __future__ import annotations

import strawberry


@strawberry.input
class RetryNotificationInput:
    notification_id: strawberry.ID = strawberry.field(
        description="A FAILED notification (operationsStatus.deadLetters)."
    )
