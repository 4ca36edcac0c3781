"""Inputs of shift, status and pin mutations."""

from __future__ import annotations

from datetime import datetime

import strawberry

from api.enums import RadiologistStatus


@strawberry.input
class StartShiftInput:
    radiologist_code: str
    site_code: str
    ends_at: datetime = strawberry.field(description="Planned end, within 24 hours.")


@strawberry.input
class RadiologistInput:
    radiologist_code: str


@strawberry.input
class SetRadiologistStatusInput:
    radiologist_code: str
    status: RadiologistStatus = strawberry.field(description="AVAILABLE or ON_BREAK.")


@strawberry.input
class PinAssignmentInput:
    exam_id: strawberry.ID
    radiologist_code: str
    reason: str


@strawberry.input
class UnpinAssignmentInput:
    exam_id: strawberry.ID
