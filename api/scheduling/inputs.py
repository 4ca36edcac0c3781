"""Inputs of scheduling steps."""

from __future__ import annotations

from datetime import datetime

import strawberry

from api.exams.inputs import VERSION_HELP


@strawberry.input
class ScheduleExamInput:
    exam_id: strawberry.ID
    resource_code: str
    starts_at: datetime
    expected_version: int | None = strawberry.field(default=None, description=VERSION_HELP)


@strawberry.input
class RescheduleExamInput:
    exam_id: strawberry.ID
    resource_code: str
    starts_at: datetime
    reason: str
    expected_version: int | None = strawberry.field(default=None, description=VERSION_HELP)


@strawberry.input
class CancelExamInput:
    exam_id: strawberry.ID
    reason: str
    expected_version: int | None = strawberry.field(default=None, description=VERSION_HELP)


@strawberry.input
class MarkNoShowInput:
    exam_id: strawberry.ID
    reason: str | None = None
    expected_version: int | None = strawberry.field(default=None, description=VERSION_HELP)
