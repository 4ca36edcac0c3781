"""ImagingStudy: the acquired study once stored (its instance UID, archive, series and images)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from fhir.resources.R4B.imagingstudy import ImagingStudy

from domain.tables import ACQUISITIONS, EXAMS, PATIENTS, PROCEDURES, STORED_STUDIES
from interfaces.fhir.codes import ACCESSION_SYSTEM, DICOM, IDENTIFIER_TYPES, PROCEDURE_SYSTEM
from interfaces.fhir.kind import (
    ResourceType,
    Row,
    drop_empty,
    exam_visible,
    instant,
    order_parameter,
    patient_parameter,
    patient_reference,
)
from interfaces.fhir.outcome import FhirError
from interfaces.fhir.search import (
    SearchParameter,
    by_name,
    date_parameter,
    logical_id,
    token,
)

S = STORED_STUDIES.c
STATUSES = ("registered", "available", "cancelled", "entered-in-error", "unknown")
# When the images were first taken: the exam's first acquisition attempt.
STARTED = (
    sa.select(sa.func.min(ACQUISITIONS.c.started_at))
    .where(ACQUISITIONS.c.exam_id == S.exam_id)
    .scalar_subquery()
)


def statement() -> sa.Select[Any]:
    return (
        sa.select(
            S.exam_id,
            S.study_instance_uid,
            S.archive_location,
            S.available_at,
            S.series_count,
            S.image_count,
            STARTED.label("started_at"),
            EXAMS.c.accession_number,
            PATIENTS.c.id.label("patient_id"),
            PATIENTS.c.mrn,
            PATIENTS.c.given_name,
            PATIENTS.c.family_name,
            PROCEDURES.c.code.label("procedure_code"),
            PROCEDURES.c.name.label("procedure_name"),
            PROCEDURES.c.modality,
        )
        .join(EXAMS, EXAMS.c.id == S.exam_id)
        .join(PATIENTS, PATIENTS.c.id == EXAMS.c.patient_id)
        .join(PROCEDURES, PROCEDURES.c.id == EXAMS.c.procedure_id)
    )


def build(row: Row, phi: bool, _: Any = None) -> ImagingStudy:
    document = {
        "resourceType": "ImagingStudy",
        "id": str(row.exam_id),
        "identifier": [
            {"system": "urn:dicom:uid", "value": f"urn:oid:{row.study_instance_uid}"},
            {
                "type": {"coding": [{"system": IDENTIFIER_TYPES, "code": "ACSN"}]},
                "system": ACCESSION_SYSTEM,
                "value": row.accession_number,
            },
        ],
        "status": "available",
        "modality": [{"system": DICOM, "code": str(row.modality)}],
        "subject": patient_reference(row, phi),
        "started": instant(row.started_at),
        "basedOn": [{"reference": f"ServiceRequest/{row.exam_id}"}],
        "numberOfSeries": row.series_count,
        "numberOfInstances": row.image_count,
        "procedureCode": [
            {
                "coding": [
                    {
                        "system": PROCEDURE_SYSTEM,
                        "code": row.procedure_code,
                        "display": row.procedure_name,
                    }
                ]
            }
        ],
        "description": row.procedure_name,
        "note": [
            {"text": f"Stored at {row.archive_location}, available {instant(row.available_at)}"}
        ],
    }
    return ImagingStudy.model_validate(drop_empty(document))


def status_clause(value: str) -> sa.ColumnElement[bool]:
    _, code = token(value)
    if code not in STATUSES:
        raise FhirError.one(
            400, "invalid", f"status must be one of {', '.join(STATUSES)}", "status"
        )
    return sa.true() if code == "available" else sa.false()  # a stored study is available


IMAGING_STUDY = ResourceType(
    name="ImagingStudy",
    documentation="A stored study (status available), by the exam it was acquired for.",
    statement=statement,
    key=S.exam_id,
    parameters=by_name(
        logical_id("ImagingStudy", S.exam_id),
        patient_parameter("patient"),
        patient_parameter("subject"),
        order_parameter("basedon", S.exam_id),
        SearchParameter("status", "token", "available (every stored study).", status_clause),
        date_parameter("started", STARTED, "When the acquisition started."),
    ),
    build=build,
    visible=exam_visible,
)
