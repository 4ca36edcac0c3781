"""Inputs of result communication, follow-up, surveys and closing."""

from __future__ import annotations

from datetime import date, datetime

import strawberry

from api.enums import FollowUpStatus, IntervalUnit, Modality, NotificationChannel, Respondent
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
    recommendation: str = strawberry.field(description="What is recommended, as reported.")
    modality: Modality | None = strawberry.field(
        default=None, description="The recommended exam's modality (with bodyRegion)."
    )
    body_region: str | None = strawberry.field(
        default=None,
        description="The recommended exam's body region, as the catalogue's procedures name it "
        "(e.g. CHEST): any procedure of this modality and region fulfils the follow-up.",
    )
    interval: FollowUpIntervalInput | None = strawberry.field(
        default=None, description="When, from today: the due date follows from it."
    )
    reason: str | None = strawberry.field(
        default=None, description="Why, e.g. the finding and the guideline followed."
    )
    due_on: date | None = strawberry.field(
        default=None,
        description="A due date instead of an interval (older clients); not with interval.",
    )
    procedure_code: str | None = strawberry.field(
        default=None,
        description="A procedure whose modality and body region are recommended, instead of "
        "naming them.",
    )


@strawberry.input(description="A follow-up's interval, e.g. 3 MONTHS.")
class FollowUpIntervalInput:
    count: int
    unit: IntervalUnit


@strawberry.input(description="Which follow-ups to list; every given criterion must match.")
class FollowUpFilter:
    status: list[FollowUpStatus] | None = None
    overdue: bool | None = strawberry.field(
        default=None,
        description="true: open and past the due date; false: the others.",
    )
    referrer: str | None = strawberry.field(
        default=None, description="The ordering referrer's code (of the recommending exam)."
    )
    site: str | None = strawberry.field(
        default=None, description="The site code of the recommending exam."
    )


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
