"""The imaging side: what the scanners reported (MPPS) and what the PACS holds (studies)."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlmodel import Field, SQLModel

from domain.models._columns import choice, document, ref, text, when


class ProcedureStepStatus(StrEnum):
    """DICOM MPPS Performed Procedure Step Status (0040,0252)."""

    IN_PROGRESS = "IN PROGRESS"
    COMPLETED = "COMPLETED"
    DISCONTINUED = "DISCONTINUED"


class PerformedProcedureStep(SQLModel, table=True):
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


class ArchivedStudy(SQLModel, table=True):
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


class PacsFollower(SQLModel, table=True):
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
    "PacsFollower",
    "PerformedProcedureStep",
    "ProcedureStepStatus",
]
