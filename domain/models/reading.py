"""Reads (who reads a study), reports, addenda, result communications and follow-up."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field

from domain.enums import (
    CriticalLevel,
    FollowUpStatus,
    IntervalUnit,
    Modality,
    NotificationChannel,
    ReportStatus,
    Respondent,
)
from domain.models._columns import choice, document, ref, text, when
from domain.models._row import Row


class Read(Row, table=True):
    """An assignment of a study to a radiologist; at most one is current per exam."""

    __tablename__ = "reads"
    __table_args__ = (
        sa.Index(
            "uq_reads_current_exam",
            "exam_id",
            unique=True,
            sqlite_where=sa.text("ended_at IS NULL"),
            postgresql_where=sa.text("ended_at IS NULL"),
        ),
        # An exam's reads, and whether one reader read it (the reader's access check): with
        # the exam alone, SQLite chose the reader's index and walked every read they did.
        sa.Index("ix_reads_exam_radiologist", "exam_id", "radiologist_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    exam_id: int = ref("exams", index=False)  # ix_reads_exam_radiologist leads with it
    radiologist_id: int = ref("radiologists")
    source: str = text(16)
    assigned_at: datetime = when()
    assigned_by: str = text(64)
    reason: str = text(500)
    position: int | None = Field(default=None, description="Place on the worklist, 0 = next.")
    pinned: bool = False
    opened_at: datetime | None = when(nullable=True)
    ended_at: datetime | None = when(nullable=True)
    end_reason: str | None = text(32, nullable=True)
    # Why a person (or the balancer's leader) ended the read: a hand-back's or release's reason,
    # carried onto the study's next assignment.
    end_note: str | None = text(500, nullable=True)


class ReadingPace(Row, table=True):
    """What one reader's signed reads of one procedure group say about their pace: the count,
    and the sum and sum of squares of ln(minutes opened -> signed / catalogue minutes)
    (`domain.paces.PaceHistory`), updated in the signing's transaction; the planner turns
    them into learned paces (`balancer.paces`)."""

    __tablename__ = "reading_paces"

    radiologist_id: int = Field(foreign_key="radiologists.id", primary_key=True)
    procedure_group: str = Field(max_length=16, primary_key=True)
    reads: int = 0
    log_sum: float = 0.0
    log_square_sum: float = 0.0
    updated_at: datetime = when()


class Report(Row, table=True):
    """The structured report of an exam: draft, then preliminary, then final.

    `content` maps section key -> field key -> text, following the procedure's template.
    """

    __tablename__ = "reports"

    id: int | None = Field(default=None, primary_key=True)
    exam_id: int = Field(foreign_key="exams.id", unique=True)
    radiologist_id: int = ref("radiologists")
    status: ReportStatus = choice(ReportStatus)
    content: dict[str, Any] = document()
    impression: str = text(4000, default="")
    critical_level: CriticalLevel = choice(CriticalLevel, default=CriticalLevel.NONE)
    created_at: datetime = when()
    updated_at: datetime = when()
    preliminary_at: datetime | None = when(nullable=True)
    final_at: datetime | None = when(nullable=True)
    # A critical finding signed final but not communicated in its window escalates; this is
    # when it last did (the next escalation is one window later).
    uncommunicated_escalated_at: datetime | None = when(nullable=True)
    uncommunicated_escalations: int = 0


class Addendum(Row, table=True):
    """An addendum to a signed report: a signed report is amended, never silently edited."""

    __tablename__ = "report_addenda"

    id: int | None = Field(default=None, primary_key=True)
    report_id: int = ref("reports")
    radiologist_id: int = ref("radiologists")
    text: str = Field(max_length=4000)
    created_at: datetime = when()


class ResultCommunication(Row, table=True):
    """A result sent to the referrer; a critical one stays open until acknowledged.

    It is the record ACR asks a department to keep: the finding and its category, when it was
    identified (signed), who communicated it, who received it, when and how (the channel that
    reached them, not the one asked for), and who acknowledged it: the recipient, or someone
    recording the recipient's read-back (who read back, how, when).
    """

    __tablename__ = "result_communications"

    id: int | None = Field(default=None, primary_key=True)
    exam_id: int = ref("exams")
    referrer_id: int = ref("referrers")
    critical_level: CriticalLevel = choice(CriticalLevel)
    # The channel the result's message was queued on (what reached the recipient: received_via).
    channel: NotificationChannel = choice(NotificationChannel)
    notified_at: datetime = when()
    notified_by: str = text(64)
    acknowledge_by: datetime | None = when(nullable=True, index=True)
    acknowledged_at: datetime | None = when(nullable=True)
    acknowledged_by: str | None = text(64, nullable=True)
    escalated_at: datetime | None = when(nullable=True)
    escalation_count: int = 0
    finding: str = text(1000, default="")
    identified_at: datetime | None = when(nullable=True)  # the report's first signing
    # The category's window when the result was communicated (the settings may change later).
    window_minutes: int | None = None
    # Who the result reached first: a referrer (`received_by_id`), the supervisor's line, or a
    # person the communicator names (`received_by_name`); when, and by which channel.
    received_by_kind: str | None = text(16, nullable=True)
    received_by_id: int | None = None
    received_by_name: str | None = text(160, nullable=True)
    received_at: datetime | None = when(nullable=True)
    received_via: NotificationChannel | None = choice(NotificationChannel, nullable=True)
    # The latest escalation step: who it called and by which channel.
    escalated_to_kind: str | None = text(16, nullable=True)
    escalated_to_id: int | None = None
    escalated_via: NotificationChannel | None = choice(NotificationChannel, nullable=True)
    # An acknowledgement recorded for the recipient: who read the result back, and how
    # (`acknowledged_at` is when they did, `acknowledged_by` who recorded it).
    read_back_by: str | None = text(160, nullable=True)
    read_back_via: NotificationChannel | None = choice(NotificationChannel, nullable=True)


class FollowUpRecommendation(Row, table=True):
    """A recommended follow-up (e.g. CT chest in 3 months), tracked to completion.

    What is recommended is a modality and a body region (the catalogue's `Procedure.body_part`
    words): any procedure of that modality and region fulfils it. `due_on` is the recording
    date plus the interval. Rows recorded before the interval existed keep their due date and
    have no interval; their modality and region came from their procedure code, if any.
    """

    __tablename__ = "follow_up_recommendations"

    id: int | None = Field(default=None, primary_key=True)
    exam_id: int = ref("exams")
    recommendation: str = text(1000)
    procedure_code: str | None = text(16, nullable=True)
    modality: Modality | None = choice(Modality, nullable=True)
    body_region: str | None = text(32, nullable=True)
    interval_count: int | None = Field(default=None, gt=0)
    interval_unit: IntervalUnit | None = choice(IntervalUnit, nullable=True)
    reason: str | None = text(1000, nullable=True)
    due_on: date = Field(index=True)
    status: FollowUpStatus = choice(FollowUpStatus, default=FollowUpStatus.OPEN)
    created_at: datetime = when()
    created_by: str = text(64)
    completed_at: datetime | None = when(nullable=True)
    completed_exam_id: int | None = ref("exams", nullable=True)
    due_notified_at: datetime | None = when(nullable=True)  # the referrer was told it fell due
    # Overdue: each escalation calls the next person of the chain (as a critical result's).
    escalation_count: int = 0
    escalated_at: datetime | None = when(nullable=True)


class SatisfactionSurvey(Row, table=True):
    """A referrer's or patient's rating of an exam, one per respondent kind."""

    __tablename__ = "satisfaction_surveys"
    __table_args__ = (sa.UniqueConstraint("exam_id", "respondent", name="uq_survey_respondent"),)

    id: int | None = Field(default=None, primary_key=True)
    exam_id: int = ref("exams")
    respondent: Respondent = choice(Respondent)
    score: int = Field(ge=1, le=5)
    comment: str | None = text(2000, nullable=True)
    submitted_at: datetime = when()
    submitted_by: str = text(64)
