"""Inputs of result communication, follow-up, surveys and closing."""

from __future__ import annotations

from datetime import date

import strawberry

from api.enums import NotificationChannel, Respondent
from api.exams.inputs import VERSION_HELP


@strawberry.input
class NotifyResultInput:
    exam_id: strawberry.ID
    channel: NotificationChannel = NotificationChannel.PORTAL
    expected_version: int | None = strawberry.field(default=None, description=VERSION_HELP)


@strawberry.input
class RecordFollowUpInput:
    exam_id: strawberry.ID
    recommendation: str
    due_on: date
    procedure_code: str | None = None


@strawberry.input
class CompleteFollowUpInput:
    follow_up_id: strawberry.ID
    completed_exam_id: strawberry.ID | None = None


@strawberry.input
class SubmitSurveyInput:
    exam_id: strawberry.ID
    respondent: Respondent
    score: int = strawberry.field(description="1 (poor) to 5 (excellent).")
    comment: str | None = None
