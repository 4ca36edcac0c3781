"""Inputs of result communication, follow-up, surveys and closing."""

from __future__ import annotations

from datetime import date, datetime

import strawberry

from api.enums import NotificationChannel, Respondent
from api.exams.inputs import VERSION_HELP


@strawberry.input(description="A result given in person or by phone: to whom, how, when.")
class DirectContactInput:
    received_by: str = strawberry.field(
        description="Who received it, as they named themselves (e.g. 'Dr Lee, ED attending')."
    )
    channel: NotificationChannel
    at: datetime | None = strawberry.field(default=None, description="Now when left out.")


@strawberry.input
class NotifyResultInput:
    exam_id: strawberry.ID
    channel: NotificationChannel | None = strawberry.field(
        default=None,
        description="The message's channel; left out: the referrer's own for a critical or "
        "urgent result (a call when they have a phone, else e-mail), else the portal.",
    )
    finding: str | None = strawberry.field(
        default=None, description="The finding communicated; left out: the impression."
    )
    direct: DirectContactInput | None = strawberry.field(
        default=None, description="The communicator gave the result in person or by phone."
    )
    expected_version: int | None = strawberry.field(default=None, description=VERSION_HELP)


@strawberry.input(description="The recipient's read-back, recorded on their behalf.")
class ReadBackInput:
    read_back_by: str = strawberry.field(description="Who read the result back.")
    channel: NotificationChannel = strawberry.field(description="How they read it back.")
    at: datetime | None = strawberry.field(default=None, description="Now when left out.")


@strawberry.input
class AcknowledgeResultInput:
    exam_id: strawberry.ID
    read_back: ReadBackInput | None = strawberry.field(
        default=None,
        description="Required unless the caller is the result's recipient (the referrer it "
        "was sent to).",
    )


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
