"""Subscription filters."""

from __future__ import annotations

import strawberry

from api.enums import ExamStatus, Modality


@strawberry.input(
    description="Which status changes to receive; every given field must match "
    "(none given: every exam)."
)
class ExamStatusFilter:
    exam_id: strawberry.ID | None = None
    site_id: strawberry.ID | None = strawberry.field(default=None, description="A Site's id.")
    modality: Modality | None = None
    status: list[ExamStatus] | None = strawberry.field(
        default=None, description="The statuses the exam moved to."
    )
