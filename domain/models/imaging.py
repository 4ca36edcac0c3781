"""The imaging side: what the scanners reported (MPPS) and what the PACS holds (studies)."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlmodel import Field

from domain.enums import Modality
from domain.models._columns import choice, document, ref, text, when
from domain.models._row import Row


class ProcedureStepStatus(StrEnum):
    """DICOM MPPS Performed Procedure Step Status (0040,0252)."""

    IN_PROGRESS = "IN PROGRESS"
    COMPLETED = "COMPLETED"
    DISCONTINUED = "DISCONTINUED"


class PerformedProcedureStep(Row, table=True):
    """One MPPS instance a scanner created, and the exam it reports on.

    The scanner names the step by its SOP Instance UID in each later N-SET; this row is how
    radflow finds the exam again, on any replica and after a restart.
    """

    __tablename__ = "performed_procedure_steps"

    id: int | None = Field(default=None, primary_key=True)
    sop_instance_uid: str = text(64, unique=True)
    exam_id: int = ref("exams")
    station_ae_title: str = text(16)
    status: ProcedureStepStatus = choice(ProcedureStepStatus)
    created_at: datetime = when()
    updated_at: datetime = when()
    series_count: int | None = Field(default=None, ge=0)
    image_count: int | None = Field(default=None, ge=0)
    discontinued_reason: str | None = text(200, nullable=True)


class ArchivedStudyState(StrEnum):
    """Where a study the PACS reported stands with radflow."""

    PENDING = "PENDING"  # its exam is not acquired yet: tried again on each pass
    READY = "READY"  # matched, validated, storage registered: ready for reading
    REJECTED = "REJECTED"  # matched, but its header disagrees with the order
    UNMATCHED = "UNMATCHED"  # no exam has its accession number (or radflow's UID)
    RECONCILED = "RECONCILED"  # attached to an exam by hand; its header fixed in the PACS
    FAILED = "FAILED"  # handling it failed (`last_error`): tried again at `retry_at`
    PURGING = "PURGING"  # past retention, its deletion from the PACS under way
    PURGED = "PURGED"  # past retention, deleted from the PACS by a supervisor (study_purges)


class ArchivedStudy(Row, table=True):
    """A stable study the PACS (Orthanc) reported, with its header and what became of it."""

    __tablename__ = "archived_studies"

    id: int | None = Field(default=None, primary_key=True)
    pacs_id: str = text(64, unique=True)  # Orthanc's study id
    study_instance_uid: str = text(64, index=True)
    accession_number: str = text(64, index=True)
    exam_id: int | None = ref("exams", nullable=True)
    state: ArchivedStudyState = choice(ArchivedStudyState, index=True)
    header: dict[str, Any] = document()
    problems: list[dict[str, Any]] = document()
    series_count: int = Field(ge=0)
    image_count: int = Field(ge=0)
    dicomweb_url: str = text(500)
    viewer_url: str | None = text(500, nullable=True)
    received_at: datetime = when()
    updated_at: datetime = when()
    study_date: date | None = None
    # A study whose handling failed: the tries so far, the last error, when it is tried again
    # (doubling waits); the feed goes on meanwhile. Cleared once it is handled.
    attempts: int = Field(default=0, ge=0, sa_column_kwargs={"server_default": "0"})
    last_error: str | None = text(500, nullable=True)
    retry_at: datetime | None = when(nullable=True)
    # Retention: the first day the study may be deleted (None: kept), by which rule, and when
    # it was last worked out (a row the follower updated since is worked out again).
    expires_on: date | None = Field(default=None, index=True)
    retention_rule_id: int | None = ref("retention_rules", nullable=True, index=False)
    retention_computed_at: datetime | None = when(nullable=True)


class RetentionRule(Row, table=True):
    """How long the department keeps one class of study (domain.retention has the maths).

    `scope` is the class as one unique key: `<modality or *>@<site code or *>`.
    """

    __tablename__ = "retention_rules"

    id: int | None = Field(default=None, primary_key=True)
    scope: str = text(40, unique=True)
    modality: Modality | None = choice(Modality, nullable=True)
    site_id: int | None = ref("sites", nullable=True, index=False)
    years: int = Field(ge=0, le=200)
    majority_age: int = Field(ge=0, le=30)
    years_after_majority: int = Field(ge=0, le=200)
    reason: str = text(500)
    updated_by: str = text(64)
    updated_at: datetime = when()
    # Withdrawn: no longer applies (kept, since purge records name it); setting the class's
    # rule again brings it back.
    withdrawn_at: datetime | None = when(nullable=True)


class LegalHold(Row, table=True):
    """A legal hold on one study (by its Study Instance UID) or on all a patient's studies.

    Active until released; a held study is never deleted, whatever its expiry.
    """

    __tablename__ = "legal_holds"

    id: int | None = Field(default=None, primary_key=True)
    study_instance_uid: str | None = text(64, nullable=True, index=True)
    patient_id: int | None = ref("patients", nullable=True)
    reason: str = text(500)
    placed_by: str = text(64)
    placed_at: datetime = when()
    released_by: str | None = text(64, nullable=True)
    released_at: datetime | None = when(nullable=True)
    release_reason: str | None = text(500, nullable=True)


class PurgeOutcome(StrEnum):
    """Where one study's deletion from the PACS stands."""

    DELETING = "DELETING"  # claimed; the PACS has been asked
    DELETED = "DELETED"  # gone from the PACS (or was gone already)
    FAILED = "FAILED"  # the PACS refused or was unreachable: the study is kept as it was


class StudyPurge(Row, table=True):
    """What a supervisor's purge deleted from the PACS: the study as it was, who, why, when."""

    __tablename__ = "study_purges"

    id: int | None = Field(default=None, primary_key=True)
    archived_study_id: int = ref("archived_studies")
    pacs_id: str = text(64)
    study_instance_uid: str = text(64)
    accession_number: str = text(64)
    exam_id: int | None = ref("exams", nullable=True, index=False)
    study_date: date | None = None
    expires_on: date
    retention_rule_id: int | None = ref("retention_rules", nullable=True, index=False)
    previous_state: ArchivedStudyState = choice(ArchivedStudyState)
    outcome: PurgeOutcome = choice(PurgeOutcome)
    error: str | None = text(500, nullable=True)
    reason: str = text(500)
    purged_by: str = text(64)
    requested_at: datetime = when()
    finished_at: datetime | None = when(nullable=True)


class PacsFollower(Row, table=True):
    """How far radflow has read a PACS's changes feed, and which replica reads it now.

    A replica follows the feed only while it holds the claim (`holder` until `claimed_until`);
    it renews the claim as it goes, and advances `last_change` only while it still holds it.
    """

    __tablename__ = "pacs_followers"

    name: str = Field(primary_key=True, max_length=64)
    last_change: int = 0
    holder: str | None = text(200, nullable=True)
    claimed_until: datetime | None = when(nullable=True)


__all__ = [
    "ArchivedStudy",
    "ArchivedStudyState",
    "LegalHold",
    "PacsFollower",
    "PerformedProcedureStep",
    "ProcedureStepStatus",
    "PurgeOutcome",
    "RetentionRule",
    "StudyPurge",
]
