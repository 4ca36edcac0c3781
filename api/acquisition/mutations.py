"""Stages 3-6 mutations: prep checklist, acquisition and repeats, metadata, storage."""

from __future__ import annotations

from typing import Annotated

import strawberry

from api.acquisition.inputs import (
    CompleteAcquisitionInput,
    CompletePrepItemInput,
    CorrectMetadataInput,
    RegisterStorageInput,
    RequestRepeatInput,
    StartAcquisitionInput,
    StudyHeaderInput,
    ValidateMetadataInput,
)
from api.commands import exam_step
from api.context import Info
from api.errors import (
    Conflict,
    InvalidTransition,
    MetadataInvalid,
    NotFound,
    PreconditionFailed,
    ValidationFailed,
)
from api.exams.types import Acquisition, Exam, MetadataValidation, StoredStudy
from domain.services import acquisition
from domain.services.acquisition import StudyHeader


@strawberry.type
class PrepItemCompleted:
    exam: Exam


@strawberry.type
class AcquisitionStarted:
    exam: Exam
    acquisition: Acquisition


@strawberry.type
class ExamAcquired:
    exam: Exam
    acquisition: Acquisition


@strawberry.type
class RepeatRequested:
    exam: Exam
    acquisition: Acquisition = strawberry.field(description="The new attempt.")


@strawberry.type(
    description="The header was checked; if invalid the exam is now "
    "METADATA_REJECTED and `validation.problems` lists why."
)
class MetadataValidated:
    exam: Exam
    validation: MetadataValidation


@strawberry.type
class MetadataCorrected:
    exam: Exam
    validation: MetadataValidation


@strawberry.type
class StudyStored:
    exam: Exam
    study: StoredStudy


Failures = NotFound | InvalidTransition | PreconditionFailed | ValidationFailed | Conflict
CompletePrepItemResult = Annotated[
    PrepItemCompleted | Failures, strawberry.union("CompletePrepItemResult")
]
StartAcquisitionResult = Annotated[
    AcquisitionStarted | Failures, strawberry.union("StartAcquisitionResult")
]
CompleteAcquisitionResult = Annotated[
    ExamAcquired | Failures, strawberry.union("CompleteAcquisitionResult")
]
RequestRepeatResult = Annotated[RepeatRequested | Failures, strawberry.union("RequestRepeatResult")]
ValidateMetadataResult = Annotated[
    MetadataValidated | Failures, strawberry.union("ValidateMetadataResult")
]
CorrectMetadataResult = Annotated[
    MetadataCorrected | MetadataInvalid | Failures, strawberry.union("CorrectMetadataResult")
]
RegisterStorageResult = Annotated[StudyStored | Failures, strawberry.union("RegisterStorageResult")]


def _header(value: StudyHeaderInput) -> StudyHeader:
    return StudyHeader(
        accession_number=value.accession_number,
        patient_mrn=value.patient_mrn,
        modality=value.modality,
        body_part=value.body_part,
        procedure_code=value.procedure_code,
    )


@strawberry.type
class AcquisitionMutations:
    @strawberry.mutation(
        description="Tick a prep checklist item; the last one prepares a checked-in exam."
    )
    async def complete_prep_item(
        self, info: Info, input: CompletePrepItemInput
    ) -> CompletePrepItemResult:
        return await exam_step(
            info,
            input.exam_id,
            lambda uow, actor, pk: acquisition.complete_prep_item(
                uow=uow, actor=actor, exam_id=pk, item_code=input.item_code, note=input.note
            ),
            lambda _, exam: PrepItemCompleted(exam=exam),
            errors=Failures,
        )

    @strawberry.mutation(description="Imaging begins (the prep checklist must be complete).")
    async def start_acquisition(
        self, info: Info, input: StartAcquisitionInput
    ) -> StartAcquisitionResult:
        return await exam_step(
            info,
            input.exam_id,
            lambda uow, actor, pk: acquisition.start_acquisition(
                uow=uow,
                actor=actor,
                exam_id=pk,
                resource_code=input.resource_code,
                expected_version=input.expected_version,
            ),
            lambda acq, exam: AcquisitionStarted(
                exam=exam, acquisition=Acquisition.from_model(acq)
            ),
            errors=Failures,
        )

    @strawberry.mutation(description="Imaging finished.")
    async def complete_acquisition(
        self, info: Info, input: CompleteAcquisitionInput
    ) -> CompleteAcquisitionResult:
        return await exam_step(
            info,
            input.exam_id,
            lambda uow, actor, pk: acquisition.complete_acquisition(
                uow=uow,
                actor=actor,
                exam_id=pk,
                series_count=input.series_count,
                image_count=input.image_count,
                expected_version=input.expected_version,
            ),
            lambda acq, exam: ExamAcquired(exam=exam, acquisition=Acquisition.from_model(acq)),
            errors=Failures,
        )

    @strawberry.mutation(description="Repeat the acquisition, with the reason.")
    async def request_repeat(self, info: Info, input: RequestRepeatInput) -> RequestRepeatResult:
        return await exam_step(
            info,
            input.exam_id,
            lambda uow, actor, pk: acquisition.request_repeat(
                uow=uow,
                actor=actor,
                exam_id=pk,
                reason=input.reason,
                note=input.note,
                expected_version=input.expected_version,
            ),
            lambda acq, exam: RepeatRequested(exam=exam, acquisition=Acquisition.from_model(acq)),
            errors=Failures,
        )

    @strawberry.mutation(description="Check the study's header against the order.")
    async def validate_metadata(
        self, info: Info, input: ValidateMetadataInput
    ) -> ValidateMetadataResult:
        return await exam_step(
            info,
            input.exam_id,
            lambda uow, actor, pk: acquisition.validate_metadata(
                uow=uow,
                actor=actor,
                exam_id=pk,
                header=_header(input.header),
                expected_version=input.expected_version,
            ),
            lambda v, exam: MetadataValidated(
                exam=exam, validation=MetadataValidation.from_model(v)
            ),
            errors=Failures,
        )

    @strawberry.mutation(description="Correct a rejected header; it must now validate.")
    async def correct_metadata(
        self, info: Info, input: CorrectMetadataInput
    ) -> CorrectMetadataResult:
        return await exam_step(
            info,
            input.exam_id,
            lambda uow, actor, pk: acquisition.correct_metadata(
                uow=uow,
                actor=actor,
                exam_id=pk,
                header=_header(input.header),
                reason=input.reason,
                expected_version=input.expected_version,
            ),
            lambda v, exam: MetadataCorrected(
                exam=exam, validation=MetadataValidation.from_model(v)
            ),
            errors=MetadataInvalid | Failures,
        )

    @strawberry.mutation(description="The study is archived; it becomes READY_FOR_READ.")
    async def register_storage(
        self, info: Info, input: RegisterStorageInput
    ) -> RegisterStorageResult:
        return await exam_step(
            info,
            input.exam_id,
            lambda uow, actor, pk: acquisition.register_storage(
                uow=uow,
                actor=actor,
                exam_id=pk,
                study_instance_uid=input.study_instance_uid,
                archive_location=input.archive_location,
                expected_version=input.expected_version,
            ),
            lambda study, exam: StudyStored(exam=exam, study=StoredStudy.from_model(study)),
            errors=Failures,
        )
