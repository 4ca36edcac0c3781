"""ServiceRequest: the order (one exam), its placer and accession identifiers and its status."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from fhir.resources.R4B.servicerequest import ServiceRequest

from domain.enums import ExamStatus, PatientClass, Priority
from domain.tables import EXAMS, PATIENTS, PROCEDURES, REFERRERS, SITES
from interfaces.fhir.codes import (
    ACCESSION_SYSTEM,
    ACT_CODE,
    CLASS_OUT,
    ICD10_SYSTEMS,
    IDENTIFIER_TYPES,
    PATIENT_CLASS_EXTENSION,
    PRIORITY_OUT,
    PROCEDURE_SYSTEM,
    REFERRER_SYSTEM,
    REQUEST_STATUS,
    REQUEST_STATUSES,
    SITE_SYSTEM,
    exam_statuses,
)
from interfaces.fhir.kind import (
    ResourceType,
    Row,
    drop_empty,
    exam_visible,
    instant,
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

E = EXAMS.c


def statement() -> sa.Select[Any]:
    """An exam with its patient, procedure, site and referrer."""
    return (
        sa.select(
            E.id.label("exam_id"),
            E.accession_number,
            E.order_source,
            E.placer_order_number,
            E.priority,
            E.patient_class,
            E.indication,
            E.icd10_code,
            E.status,
            E.ordered_at,
            PATIENTS.c.id.label("patient_id"),
            PATIENTS.c.mrn,
            PATIENTS.c.given_name,
            PATIENTS.c.family_name,
            PROCEDURES.c.code.label("procedure_code"),
            PROCEDURES.c.name.label("procedure_name"),
            SITES.c.code.label("site_code"),
            SITES.c.name.label("site_name"),
            REFERRERS.c.code.label("referrer_code"),
            REFERRERS.c.name.label("referrer_name"),
        )
        .join(PATIENTS, PATIENTS.c.id == E.patient_id)
        .join(PROCEDURES, PROCEDURES.c.id == E.procedure_id)
        .join(SITES, SITES.c.id == E.site_id)
        .join(REFERRERS, REFERRERS.c.id == E.referrer_id)
    )


def placer_identifier(row: Row) -> dict[str, Any]:
    return {
        "type": {"coding": [{"system": IDENTIFIER_TYPES, "code": "PLAC"}]},
        "system": row.order_source,
        "value": row.placer_order_number,
    }


def accession_identifier(row: Row) -> dict[str, Any]:
    return {
        "type": {"coding": [{"system": IDENTIFIER_TYPES, "code": "ACSN"}]},
        "system": ACCESSION_SYSTEM,
        "value": row.accession_number,
    }


def procedure_code(row: Row) -> dict[str, Any]:
    return {
        "coding": [
            {"system": PROCEDURE_SYSTEM, "code": row.procedure_code, "display": row.procedure_name}
        ],
        "text": row.procedure_name,
    }


def build(row: Row, phi: bool, _: Any = None) -> ServiceRequest:
    klass, meaning = CLASS_OUT[PatientClass(row.patient_class)]
    document = {
        "resourceType": "ServiceRequest",
        "id": str(row.exam_id),
        "identifier": [placer_identifier(row), accession_identifier(row)],
        "status": REQUEST_STATUS[ExamStatus(row.status)],
        "intent": "order",
        "category": [
            {
                "coding": [
                    {"system": "http://snomed.info/sct", "code": "363679005", "display": "Imaging"}
                ]
            }
        ],
        "priority": PRIORITY_OUT[Priority(row.priority)],
        "code": procedure_code(row),
        "subject": patient_reference(row, phi),
        "authoredOn": instant(row.ordered_at),
        "requester": {
            "identifier": {"system": REFERRER_SYSTEM, "value": row.referrer_code},
            "display": row.referrer_name,
        },
        "reasonCode": [
            {
                "coding": [{"system": ICD10_SYSTEMS[0], "code": row.icd10_code}],
                "text": row.indication or None,
            }
        ],
        "locationCode": [
            {"coding": [{"system": SITE_SYSTEM, "code": row.site_code, "display": row.site_name}]}
        ],
        "extension": [
            {
                "url": PATIENT_CLASS_EXTENSION,
                "valueCoding": {"system": ACT_CODE, "code": klass, "display": meaning},
            }
        ],
    }
    return ServiceRequest.model_validate(drop_empty(document))


def status_clause(value: str) -> sa.ColumnElement[bool]:
    _, code = token(value)
    if code not in REQUEST_STATUSES:
        raise FhirError.one(
            400, "invalid", f"status must be one of {', '.join(REQUEST_STATUSES)}", "status"
        )
    statuses = exam_statuses(code)
    return E.status.in_(statuses) if statuses else sa.false()


def identifier_clause(value: str) -> sa.ColumnElement[bool]:
    """The accession ({ACCESSION_SYSTEM}|value) or the placer number (order source|value)."""
    system, code = token(value)
    if not code:
        raise FhirError.one(400, "invalid", "identifier needs a value", "identifier")
    if system == ACCESSION_SYSTEM:
        return E.accession_number == code
    placer = E.placer_order_number == code
    if system is None:
        return sa.or_(E.accession_number == code, placer)
    return sa.and_(E.order_source == system, placer)


SERVICE_REQUEST = ResourceType(
    name="ServiceRequest",
    documentation="An imaging order (one exam). Create places the order as placeOrder does; "
    "If-None-Exist on the placer identifier makes it idempotent.",
    statement=statement,
    key=E.id,
    parameters=by_name(
        logical_id("ServiceRequest", E.id),
        patient_parameter("patient", E.patient_id),
        patient_parameter("subject", E.patient_id),
        SearchParameter(
            "status",
            "token",
            "The order's status (" + ", ".join(REQUEST_STATUSES) + ").",
            status_clause,
        ),
        date_parameter("authored", E.ordered_at, "When the order was placed."),
        SearchParameter(
            "identifier",
            "token",
            f"The accession number ({ACCESSION_SYSTEM}|value) or the placer order number "
            "(order source|value).",
            identifier_clause,
        ),
    ),
    build=build,
    visible=exam_visible,
    create=True,
)
