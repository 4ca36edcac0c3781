"""Appointment: an exam booked on a scanner or room (a rescheduled one is cancelled, and its
successor is another Appointment)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from fhir.resources.R4B.appointment import Appointment

from domain.enums import AppointmentStatus
from domain.tables import APPOINTMENTS, EXAMS, MODALITY_RESOURCES, PATIENTS, PROCEDURES
from interfaces.fhir.codes import (
    APPOINTMENT_STATUS,
    PROCEDURE_SYSTEM,
    RESOURCE_SYSTEM,
    appointment_statuses,
)
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

A = APPOINTMENTS.c
STATUSES = (
    "proposed", "pending", "booked", "arrived", "fulfilled", "cancelled", "noshow",
    "entered-in-error", "checked-in", "waitlist",
)  # fmt: skip


def statement() -> sa.Select[Any]:
    return (
        sa.select(
            A.id.label("appointment_id"),
            A.exam_id,
            A.starts_at,
            A.ends_at,
            A.status,
            A.booked_at,
            A.cancelled_reason,
            MODALITY_RESOURCES.c.code.label("resource_code"),
            MODALITY_RESOURCES.c.name.label("resource_name"),
            PATIENTS.c.id.label("patient_id"),
            PATIENTS.c.mrn,
            PATIENTS.c.given_name,
            PATIENTS.c.family_name,
            PROCEDURES.c.code.label("procedure_code"),
            PROCEDURES.c.name.label("procedure_name"),
        )
        .join(EXAMS, EXAMS.c.id == A.exam_id)
        .join(PATIENTS, PATIENTS.c.id == EXAMS.c.patient_id)
        .join(PROCEDURES, PROCEDURES.c.id == EXAMS.c.procedure_id)
        .join(MODALITY_RESOURCES, MODALITY_RESOURCES.c.id == A.resource_id)
    )


def build(row: Row, phi: bool, _: Any = None) -> Appointment:
    status = APPOINTMENT_STATUS[AppointmentStatus(row.status)]
    document = {
        "resourceType": "Appointment",
        "id": str(row.appointment_id),
        "status": status,
        "cancelationReason": {"text": row.cancelled_reason}
        if status == "cancelled" and row.cancelled_reason
        else None,
        "serviceType": [
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
        "start": instant(row.starts_at),
        "end": instant(row.ends_at),
        "created": instant(row.booked_at),
        "basedOn": [{"reference": f"ServiceRequest/{row.exam_id}"}],
        "participant": [
            {"actor": patient_reference(row, phi), "required": "required", "status": "accepted"},
            {
                "actor": {
                    "identifier": {"system": RESOURCE_SYSTEM, "value": row.resource_code},
                    "display": row.resource_name,
                },
                "required": "required",
                "status": "accepted",
            },
        ],
    }
    return Appointment.model_validate(drop_empty(document))


def status_clause(value: str) -> sa.ColumnElement[bool]:
    _, code = token(value)
    if code not in STATUSES:
        raise FhirError.one(
            400, "invalid", f"status must be one of {', '.join(STATUSES)}", "status"
        )
    stored = appointment_statuses(code)
    return A.status.in_(stored) if stored else sa.false()


APPOINTMENT = ResourceType(
    name="Appointment",
    documentation="An exam booked on a modality resource.",
    statement=statement,
    key=A.id,
    parameters=by_name(
        logical_id("Appointment", A.id),
        patient_parameter("patient"),
        patient_parameter("actor"),
        order_parameter("based-on", A.exam_id),
        SearchParameter("status", "token", "booked, arrived, cancelled or noshow.", status_clause),
        date_parameter("date", A.starts_at, "The appointment's start."),
    ),
    build=build,
    visible=exam_visible,
)
