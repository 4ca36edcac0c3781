"""Preparation, image acquisition, metadata validation and storage of the study."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Field

from domain.enums import RepeatReason
from domain.models._columns import choice, document, ref, text, when
from domain.models._row import Row


class ExamPrepItem(Row, table=True):
    """One item of an exam's prep checklist, copied from the procedure's protocol."""

    __tablename__ = "exam_prep_items"

    id: int | None = Field(default=None, primary_key=True)
    exam_id: int = ref("exams")
    position: int
    code: str = text(32)
    description: str = text(300)
    completed_at: datetime | None = when(nullable=True)
    completed_by: str | None = text(64, nullable=True)
    note: str | None = text(500, nullable=True)


class Acquisition(Row, table=True):
    """One attempt at acquiring the images; a repeated attempt carries the repeat reason."""

    __tablename__ = "acquisitions"

    id: int | None = Field(default=None, primary_key=True)
    exam_id: int = ref("exams")
    attempt: int = Field(ge=1)
    resource_id: int = ref("modality_resources")
    technologist: str = text(64)
    started_at: datetime = when()
    ended_at: datetime | None = when(nullable=True)
    series_count: int | None = Field(default=None, ge=0)
    image_count: int | None = Field(default=None, ge=0)
    repeat_reason: RepeatReason | None = choice(RepeatReason, nullable=True)
    repeat_note: str | None = text(500, nullable=True)


class MetadataValidation(Row, table=True):
    """The check of a study's DICOM header against its order, with each problem listed.

    `header` holds the values received; `problems` is a list of {"field", "code", "message"}.
    """

    __tablename__ = "metadata_validations"

    id: int | None = Field(default=None, primary_key=True)
    exam_id: int = ref("exams")
    validated_at: datetime = when()
    validated_by: str = text(64)
    header: dict[str, Any] = document()
    problems: list[dict[str, Any]] = document()
    valid: bool
    corrected: bool = False
    # The acquisition attempt whose study was checked: a repeat's new study is not stored on
    # the strength of the last one's check (None: recorded before attempts were kept here).
    attempt: int | None = Field(default=None, ge=1)


class StoredStudy(Row, table=True):
    """Where the acquired study lives (PACS/VNA) and since when it can be read."""

    __tablename__ = "stored_studies"

    id: int | None = Field(default=None, primary_key=True)
    exam_id: int = Field(foreign_key="exams.id", unique=True)
    study_instance_uid: str = text(64, unique=True)
    archive_location: str = text(255)
    available_at: datetime = when()
    series_count: int = Field(ge=0)
    image_count: int = Field(ge=0)
