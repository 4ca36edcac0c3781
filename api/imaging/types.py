"""A study the PACS reported that no order matched."""

from __future__ import annotations

from datetime import date, datetime

import strawberry

from api.enums import Modality
from api.exams.types import Exam
from api.relay import to_global_id
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


@strawberry.type(description="How long one class of study is kept (the retention policy).")
class RetentionRule:
    id: strawberry.ID
    modality: Modality | None = strawberry.field(description="Null: any modality.")
    site_code: str | None = strawberry.field(description="Null: any site.")
    years: int = strawberry.field(description="Kept this many years after the study date.")
    majority_age: int = strawberry.field(description="The age of majority.")
    years_after_majority: int = strawberry.field(
        description="A minor's study is kept at least until majorityAge + this many years."
    )
    reason: str
    updated_by: str
    updated_at: datetime

    @classmethod
    def from_model(cls, row: m.RetentionRule, site_code: str | None) -> RetentionRule:
        return cls(
            id=strawberry.ID(to_global_id("RetentionRule", row.id or 0)),
            modality=row.modality,
            site_code=site_code,
            years=row.years,
            majority_age=row.majority_age,
            years_after_majority=row.years_after_majority,
            reason=row.reason,
            updated_by=row.updated_by,
            updated_at=row.updated_at,
        )


@strawberry.type(description="The rule as set, and how many studies' expiries were reworked.")
class RetentionRuleSet:
    rule: RetentionRule
    recomputed: int


@strawberry.type(
    description="A legal hold: the study (or every study of the patient) is never deleted "
    "from the PACS while it is active."
)
class LegalHold:
    id: strawberry.ID
    study_instance_uid: str | None
    patient_mrn: str | None
    reason: str
    placed_by: str
    placed_at: datetime
    released_by: str | None
    released_at: datetime | None
    release_reason: str | None

    @classmethod
    def from_model(cls, row: m.LegalHold, mrn: str | None) -> LegalHold:
        return cls(
            id=strawberry.ID(to_global_id("LegalHold", row.id or 0)),
            study_instance_uid=row.study_instance_uid,
            patient_mrn=mrn,
            reason=row.reason,
            placed_by=row.placed_by,
            placed_at=row.placed_at,
            released_by=row.released_by,
            released_at=row.released_at,
            release_reason=row.release_reason,
        )


@strawberry.type(description="A study the PACS holds whose retention has run out.")
class ExpiredStudy:
    pacs_id: str
    study_instance_uid: str
    accession_number: str
    exam_id: strawberry.ID | None
    study_date: date | None
    expires_on: date = strawberry.field(description="The first day it may be deleted.")
    holds: list[LegalHold] = strawberry.field(
        description="Active legal holds on it: while any, it is never deleted."
    )

    @classmethod
    def from_model(cls, row: m.ArchivedStudy, holds: list[LegalHold]) -> ExpiredStudy:
        assert row.expires_on is not None
        return cls(
            pacs_id=row.pacs_id,
            study_instance_uid=row.study_instance_uid,
            accession_number=row.accession_number,
            exam_id=strawberry.ID(to_global_id("Exam", row.exam_id)) if row.exam_id else None,
            study_date=row.study_date,
            expires_on=row.expires_on,
            holds=holds,
        )


strawberry.enum(m.PurgeOutcome, description="Where a study's deletion from the PACS stands.")


@strawberry.type(description="One study a purge deleted from the PACS (or failed to).")
class StudyPurge:
    pacs_id: str
    study_instance_uid: str
    accession_number: str
    expires_on: date
    outcome: m.PurgeOutcome
    error: str | None
    reason: str
    purged_by: str
    requested_at: datetime
    finished_at: datetime | None

    @classmethod
    def from_model(cls, row: m.StudyPurge) -> StudyPurge:
        return cls(
            pacs_id=row.pacs_id,
            study_instance_uid=row.study_instance_uid,
            accession_number=row.accession_number,
            expires_on=row.expires_on,
            outcome=row.outcome,
            error=row.error,
            reason=row.reason,
            purged_by=row.purged_by,
            requested_at=row.requested_at,
            finished_at=row.finished_at,
        )


@strawberry.type(description="What the purge deleted from the PACS, each study's outcome.")
class StudiesPurged:
    studies: list[StudyPurge]
