"""Patient: the department's patient record, identified by MRN."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from fhir.resources.R4B.patient import Patient

from domain.tables import PATIENTS
from interfaces.fhir.codes import (
    ADMINISTRATIVE_GENDER,
    IDENTIFIER_TYPES,
    MRN_SYSTEM,
    OBSERVATION_VALUE,
)
from interfaces.fhir.kind import ResourceType, Row, day, drop_empty, patient_visible
from interfaces.fhir.search import (
    SearchParameter,
    by_name,
    date_parameter,
    identifier,
    logical_id,
    string_starts,
)

P = PATIENTS.c


def statement() -> sa.Select[Any]:
    return sa.select(
        P.id.label("patient_id"),
        sa.null().label("exam_id"),
        P.mrn,
        P.given_name,
        P.family_name,
        P.birth_date,
        P.sex,
        P.phone,
        P.email,
    )


def build(row: Row, phi: bool, _: Any = None) -> Patient:
    """The patient; for a caller not granted PHI only the MRN, marked REDACTED."""
    mrn = {
        "system": MRN_SYSTEM,
        "value": row.mrn,
        "type": {"coding": [{"system": IDENTIFIER_TYPES, "code": "MR"}]},
    }
    document: dict[str, Any] = {
        "resourceType": "Patient",
        "id": str(row.patient_id),
        "identifier": [mrn],
        "active": True,
    }
    if not phi:
        document["meta"] = {"security": [{"system": OBSERVATION_VALUE, "code": "REDACTED"}]}
        return Patient.model_validate(document)
    telecom = [
        {"system": "phone", "value": row.phone, "use": "home"} if row.phone else None,
        {"system": "email", "value": row.email} if row.email else None,
    ]
    document |= {
        "name": [{"use": "official", "family": row.family_name, "given": [row.given_name]}],
        "gender": ADMINISTRATIVE_GENDER.get(row.sex, "unknown"),
        "birthDate": day(row.birth_date),
        "telecom": [t for t in telecom if t],
    }
    return Patient.model_validate(drop_empty(document))


PATIENT = ResourceType(
    name="Patient",
    documentation="Read and search; a caller not granted PHI gets the MRN only and may not "
    "search by name or birth date.",
    statement=statement,
    key=P.id,
    parameters=by_name(
        logical_id("Patient", P.id),
        SearchParameter(
            "identifier",
            "token",
            f"The MRN ({MRN_SYSTEM}|value, or the value alone).",
            identifier("identifier", [(MRN_SYSTEM, P.mrn)]),
        ),
        SearchParameter(
            "name",
            "string",
            "Family or given name starting with the value, ignoring case.",
            string_starts(P.family_name, P.given_name),
        ),
        SearchParameter(
            "family", "string", "Family name starting with the value.", string_starts(P.family_name)
        ),
        SearchParameter(
            "given", "string", "Given name starting with the value.", string_starts(P.given_name)
        ),
        date_parameter(
            "birthdate",
            P.birth_date,
            "Birth date (eq, ne, lt, le, gt, ge; year, month or day precision).",
            day_column=True,
        ),
    ),
    build=build,
    visible=patient_visible,
    phi_parameters=frozenset({"name", "family", "given", "birthdate"}),
)
