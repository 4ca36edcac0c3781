"""A study the PACS reported that no order matched."""

from __future__ import annotations

from datetime import datetime

import strawberry

from api.exams.types import Exam
from domain import models as m


@strawberry.type(
    description="A study in the PACS that no order matched (downtime, an emergency scanned "
    "before registration): what its own header says, until reconcileStudy attaches it."
)
class UnmatchedStudy:
    pacs_id: str = strawberry.field(description="The PACS's (Orthanc's) id of the study.")
    study_instance_uid: str
    accession_number: str = strawberry.field(description="As the header has it.")
    patient_id: str = strawberry.field(description="As the header has it.")
    patient_name: str | None = strawberry.field(
        description="As the header has it; null for callers without access to names."
    )
    birth_date: str | None = strawberry.field(
        description="YYYYMMDD, as the header has it; null for callers without access to names."
    )
    modality: str
    body_part: str
    series_count: int
    image_count: int
    received_at: datetime

    @classmethod
    def from_model(cls, row: m.ArchivedStudy, *, phi: bool) -> UnmatchedStudy:
        header = row.header
        return cls(
            pacs_id=row.pacs_id,
            study_instance_uid=row.study_instance_uid,
            accession_number=row.accession_number,
            patient_id=str(header.get("patient_id", "")),
            patient_name=str(header.get("patient_name", "")) if phi else None,
            birth_date=str(header.get("birth_date", "")) if phi else None,
            modality=str(header.get("modality", "")),
            body_part=str(header.get("body_part", "")),
            series_count=row.series_count,
            image_count=row.image_count,
            received_at=row.received_at,
        )


@strawberry.type(
    description="A study in the PACS whose handling failed (the PACS answered an error for it, "
    "or a command failed): tried again after doubling waits while the other studies go on."
)
class FailedStudy:
    pacs_id: str = strawberry.field(description="The PACS's (Orthanc's) id of the study.")
    study_instance_uid: str = strawberry.field(
        description="Empty when it failed before its header could be read."
    )
    accession_number: str = strawberry.field(
        description="As the header has it; empty when it failed before its header was read."
    )
    attempts: int = strawberry.field(description="Tries that failed so far.")
    last_error: str = strawberry.field(description="What the last try failed with.")
    retry_at: datetime = strawberry.field(description="When it is tried again.")
    received_at: datetime

    @classmethod
    def from_model(cls, row: m.ArchivedStudy) -> FailedStudy:
        return cls(
            pacs_id=row.pacs_id,
            study_instance_uid=row.study_instance_uid,
            accession_number=row.accession_number,
            attempts=row.attempts,
            last_error=row.last_error or "",
            retry_at=row.retry_at or row.updated_at,
            received_at=row.received_at,
        )


@strawberry.type(
    description="The study is attached to the exam and its header fixed in the PACS; the "
    "fixed study comes back through the PACS's changes and is checked like any other."
)
class StudyReconciled:
    exam: Exam
    pacs_id: str = strawberry.field(description="The id of the fixed study in the PACS.")
