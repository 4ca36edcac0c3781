"""Inputs of reconcileStudy and of retention (its rules, legal holds and purges)."""

from __future__ import annotations

import strawberry

from api.enums import Modality, PatientClass, Priority


@strawberry.input(
    description="The order to create for a study no exam exists for (an emergency scanned "
    "before registration); the patient comes from the study's header, or is the one with its "
    "patient id as MRN."
)
class ReconcileOrderInput:
    procedure_code: str = strawberry.field(description="The catalogue's procedure.")
    site_code: str
    referrer_code: str
    indication: str
    icd10_code: str
    priority: Priority = Priority.STAT
    patient_class: PatientClass = PatientClass.ED
    resource_code: str | None = strawberry.field(
        default=None,
        description="The scanner it was made on; default: the site's first of the modality.",
    )


@strawberry.input
class ReconcileStudyInput:
    pacs_id: str = strawberry.field(description="The unmatched study (UnmatchedStudy.pacsId).")
    reason: str = strawberry.field(description="Why (kept in the audit and with the study).")
    exam_id: strawberry.ID | None = strawberry.field(
        default=None, description="The exam it belongs to (or give newOrder)."
    )
    new_order: ReconcileOrderInput | None = strawberry.field(
        default=None, description="No exam exists: create this order for it (or give examId)."
    )


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
class WithdrawRetentionRuleInput:
    rule_id: strawberry.ID
    reason: str


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
