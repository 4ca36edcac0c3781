"""Inputs of preparation, acquisition, metadata and storage steps."""

from __future__ import annotations

import strawberry

from api.enums import Modality, RepeatReason
from api.exams.inputs import VERSION_HELP


@strawberry.input
class CompletePrepItemInput:
    exam_id: strawberry.ID
    item_code: str
    note: str | None = None


@strawberry.input
class StartAcquisitionInput:
    exam_id: strawberry.ID
    resource_code: str
    expected_version: int | None = strawberry.field(default=None, description=VERSION_HELP)


@strawberry.input
class CompleteAcquisitionInput:
    exam_id: strawberry.ID
    series_count: int
    image_count: int
    expected_version: int | None = strawberry.field(default=None, description=VERSION_HELP)


@strawberry.input
class RequestRepeatInput:
    exam_id: strawberry.ID
    reason: RepeatReason
    note: str | None = strawberry.field(default=None, description="Required for OTHER.")
    expected_version: int | None = strawberry.field(default=None, description=VERSION_HELP)


@strawberry.input(description="The identifying DICOM header values of the acquired study.")
class StudyHeaderInput:
    accession_number: str
    patient_mrn: str
    modality: Modality
    body_part: str
    procedure_code: str


@strawberry.input
class ValidateMetadataInput:
    exam_id: strawberry.ID
    header: StudyHeaderInput
    expected_version: int | None = strawberry.field(default=None, description=VERSION_HELP)


@strawberry.input
class CorrectMetadataInput:
    exam_id: strawberry.ID
    header: StudyHeaderInput
    reason: str
    expected_version: int | None = strawberry.field(default=None, description=VERSION_HELP)


@strawberry.input
class RegisterStorageInput:
    exam_id: strawberry.ID
    study_instance_uid: str
    archive_location: str
    expected_version: int | None = strawberry.field(default=None, description=VERSION_HELP)
