"""reconcileStudy, and retention: the policy's rules, legal holds, purges from the PACS."""

from __future__ import annotations

from typing import Annotated

import httpx
import strawberry

from api.context import Info
from api.errors import (
    Conflict,
    InvalidTransition,
    NotFound,
    PreconditionFailed,
    ValidationFailed,
    attempt,
)
from api.exams.types import Exam
from api.imaging.inputs import (
    PlaceLegalHoldInput,
    PurgeExpiredStudiesInput,
    ReconcileStudyInput,
    ReleaseLegalHoldInput,
    SetRetentionRuleInput,
    WithdrawRetentionRuleInput,
)
from api.imaging.queries import hold_types, site_codes
from api.imaging.types import (
    LegalHold,
    RetentionRule,
    RetentionRuleSet,
    StudiesPurged,
    StudyPurge,
    StudyReconciled,
)
from api.relay import decode_id
from application import retention
from domain.db import UnitOfWork
from domain.retention import RetentionTerms
from interfaces.dicom.pacs import Orthanc
from interfaces.dicom.reconcile import NewOrder, reconcile_study
from interfaces.dicom.retention import purge_expired_studies

ReconcileErrors = NotFound | ValidationFailed | Conflict | PreconditionFailed | InvalidTransition
ReconcileStudyResult = Annotated[
    StudyReconciled | ReconcileErrors,
    strawberry.union("ReconcileStudyResult"),
]
SetRetentionRuleResult = Annotated[
    RetentionRuleSet | NotFound | ValidationFailed, strawberry.union("SetRetentionRuleResult")
]
LegalHoldResult = Annotated[
    LegalHold | NotFound | ValidationFailed, strawberry.union("LegalHoldResult")
]
PurgeExpiredStudiesResult = Annotated[
    StudiesPurged | ValidationFailed, strawberry.union("PurgeExpiredStudiesResult")
]


def orthanc_client(info: Info) -> httpx.AsyncClient:
    """An HTTP client for the configured Orthanc (closed by the caller)."""
    settings = info.context.settings
    auth = None
    if settings.orthanc_username:
        auth = httpx.BasicAuth(settings.orthanc_username, settings.orthanc_password or "")
    return httpx.AsyncClient(base_url=settings.orthanc_url or "http://unset", auth=auth, timeout=30)


@strawberry.type
class ImagingMutations:
    @strawberry.mutation(
        description="Attach a study no order matched to its exam, or to the order created for "
        "it (newOrder: the patient from its header, placed as placeOrder places one, its "
        "acquisition recorded); its header (patient id, name, birth date, accession) is fixed "
        "in the PACS, its UIDs kept; audited."
    )
    async def reconcile_study(self, info: Info, input: ReconcileStudyInput) -> ReconcileStudyResult:
        context = info.context

        async def run() -> StudyReconciled:
            pk = decode_id(input.exam_id, "Exam", field="exam_id") if input.exam_id else None
            wanted = input.new_order
            new_order = None
            if wanted is not None:
                new_order = NewOrder(
                    procedure_code=wanted.procedure_code,
                    site_code=wanted.site_code,
                    referrer_code=wanted.referrer_code,
                    indication=wanted.indication,
                    icd10_code=wanted.icd10_code,
                    priority=wanted.priority,
                    patient_class=wanted.patient_class,
                    resource_code=wanted.resource_code,
                )
            url = context.settings.orthanc_url
            async with orthanc_client(info) as client:
                reconciled, exam = await reconcile_study(
                    context.db,
                    context.actor,
                    Orthanc(client) if url else None,
                    pacs_id=input.pacs_id,
                    exam_id=pk,
                    reason=input.reason,
                    sent=str(input.exam_id),
                    new_order=new_order,
                )
            return StudyReconciled(exam=Exam.from_model(exam), pacs_id=reconciled.fixed_pacs_id)

        return await attempt(
            run, sent={"exam_id": input.exam_id, "pacs_id": input.pacs_id}, errors=ReconcileErrors
        )

    @strawberry.mutation(
        description="Create or change the retention rule of one class of study (modality, "
        "site, both or neither); every stored study's expiry is worked out again."
    )
    async def set_retention_rule(
        self, info: Info, input: SetRetentionRuleInput
    ) -> SetRetentionRuleResult:
        actor = info.context.actor

        async def run() -> RetentionRuleSet:
            def command(uow: UnitOfWork) -> RetentionRuleSet:
                change = retention.set_rule(
                    uow,
                    actor,
                    modality=input.modality,
                    site_code=input.site_code,
                    terms=RetentionTerms(
                        years=input.years,
                        majority_age=input.majority_age,
                        years_after_majority=input.years_after_majority,
                    ),
                    reason=input.reason,
                )
                return RetentionRuleSet(
                    rule=RetentionRule.from_model(change.rule, input.site_code),
                    recomputed=change.recomputed,
                )

            return await info.context.commands.run("setRetentionRule", command)

        return await attempt(run, errors=NotFound | ValidationFailed)

    @strawberry.mutation(
        description="Withdraw a retention rule: its class falls back to the next most "
        "specific rule (or is kept, if none); every stored study's expiry is worked out again."
    )
    async def withdraw_retention_rule(
        self, info: Info, input: WithdrawRetentionRuleInput
    ) -> SetRetentionRuleResult:
        actor = info.context.actor

        async def run() -> RetentionRuleSet:
            pk = decode_id(input.rule_id, "RetentionRule", field="rule_id")

            def command(uow: UnitOfWork) -> RetentionRuleSet:
                change = retention.withdraw_rule(uow, actor, rule_id=pk, reason=input.reason)
                codes = site_codes(uow.session)
                site = codes.get(change.rule.site_id) if change.rule.site_id else None
                return RetentionRuleSet(
                    rule=RetentionRule.from_model(change.rule, site),
                    recomputed=change.recomputed,
                )

            return await info.context.commands.run("withdrawRetentionRule", command)

        return await attempt(
            run, sent={"rule_id": input.rule_id}, errors=NotFound | ValidationFailed
        )

    @strawberry.mutation(
        description="Place a legal hold on one study or on every study of a patient: none "
        "is deleted from the PACS while it is active, whatever its expiry."
    )
    async def place_legal_hold(self, info: Info, input: PlaceLegalHoldInput) -> LegalHoldResult:
        actor = info.context.actor

        async def run() -> LegalHold:
            def command(uow: UnitOfWork) -> LegalHold:
                hold = retention.place_hold(
                    uow,
                    actor,
                    study_instance_uid=input.study_instance_uid,
                    patient_mrn=input.patient_mrn,
                    reason=input.reason,
                )
                return hold_types(uow.session, [hold])[0]

            return await info.context.commands.run("placeLegalHold", command)

        return await attempt(run, errors=NotFound | ValidationFailed)

    @strawberry.mutation(description="Release an active legal hold, with the reason.")
    async def release_legal_hold(self, info: Info, input: ReleaseLegalHoldInput) -> LegalHoldResult:
        actor = info.context.actor

        async def run() -> LegalHold:
            pk = decode_id(input.hold_id, "LegalHold", field="hold_id")

            def command(uow: UnitOfWork) -> LegalHold:
                hold = retention.release_hold(uow, actor, hold_id=pk, reason=input.reason)
                return hold_types(uow.session, [hold])[0]

            return await info.context.commands.run("releaseLegalHold", command)

        return await attempt(
            run, sent={"hold_id": input.hold_id}, errors=NotFound | ValidationFailed
        )

    @strawberry.mutation(
        description="Delete from the PACS the named studies, or every study past retention "
        "and not under legal hold; each deletion is recorded (studyPurges) and audited. "
        "The only way radflow deletes a study."
    )
    async def purge_expired_studies(
        self, info: Info, input: PurgeExpiredStudiesInput
    ) -> PurgeExpiredStudiesResult:
        context = info.context

        async def run() -> StudiesPurged:
            async with orthanc_client(info) as client:
                purged = await purge_expired_studies(
                    context.db,
                    context.actor,
                    Orthanc(client) if context.settings.orthanc_url else None,
                    pacs_ids=input.pacs_ids,
                    reason=input.reason,
                )
            return StudiesPurged(studies=[StudyPurge.from_model(p) for p in purged.studies])

        return await attempt(run, errors=ValidationFailed)
