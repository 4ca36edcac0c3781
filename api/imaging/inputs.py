"""Inputs of reconcileStudy and of retention (its rules, legal holds and purges)."""

from __future__ import annotations

import strawberry

from api.enums import Modality


@strawberry.input
class ReconcileStudyInput:
    pacs_id: str = strawberry.field(description="The unmatched study (UnmatchedStudy.pacsId).")
    exam_id: strawberry.ID = strawberry.field(description="The exam it belongs to.")
    reason: str = strawberry.field(description="Why (kept in the audit and with the study).")


@strawberry.input
class SetRetentionRuleInput:
    modality: Modality | None = strawberry.field(
        default=None, description="The class's modality; null for any."
    )
    site_code: str | None = strawberry.field(
        default=None, description="The class's site; null for any."
    )
    years: int = strawberry.field(description="Years kept after the study date.")
    majority_age: int = strawberry.field(default=18, description="The age of majority.")
    years_after_majority: int = strawberry.field(
        default=0,
        description="A minor's study is kept at least until majorityAge + this many years.",
    )
    reason: str = strawberry.field(description="Why (the law or decision it follows).")


@strawberry.input
class PlaceLegalHoldInput:
    study_instance_uid: str | None = strawberry.field(
        default=None, description="Hold this study (give this or patientMrn)."
    )
    patient_mrn: str | None = strawberry.field(
        default=None, description="Hold every study of this patient."
    )
    reason: str


@strawberry.input
class ReleaseLegalHoldInput:
    hold_id: strawberry.ID
    reason: str


@strawberry.input
class PurgeExpiredStudiesInput:
    reason: str = strawberry.field(description="Why (kept with each deletion and audited).")
    pacs_ids: list[str] | None = strawberry.field(
        default=None,
        description="Delete just these (each must be past retention and not held, or none "
        "is deleted); null: every study past retention and not held.",
    )
