"""DiagnosticReport: the signed report of an exam (drafts are the radiologist's own, not sent).

conclusion = the impression; status preliminary, final, or amended once an addendum follows
the final signature; the template's coded values (BI-RADS, Lung-RADS, LI-RADS, density) as
conclusionCode; the whole text (sections, impression, addenda) as a text/plain presentedForm.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from fhir.resources.R4B.diagnosticreport import DiagnosticReport
from sqlalchemy.orm import Session

from domain.enums import CriticalLevel, ReportStatus
from domain.reporting import CODES, FieldKind, parse_sections
from domain.tables import (
    ADDENDA,
    EXAMS,
    PATIENTS,
    PROCEDURES,
    RADIOLOGISTS,
    REPORT_TEMPLATES,
    REPORTS,
    STORED_STUDIES,
)
from interfaces.fhir.codes import (
    CODE_SYSTEM_PREFIX,
    DIAGNOSTIC_SERVICE,
    PROCEDURE_SYSTEM,
    RADIOLOGIST_SYSTEM,
    REPORT_STATUSES,
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

R = REPORTS.c
DR_STATUSES = (
    "registered", "partial", "preliminary", "final", "amended", "corrected", "appended",
    "cancelled", "entered-in-error", "unknown",
)  # fmt: skip
_AMENDED = sa.exists().where(ADDENDA.c.report_id == R.id)
EFFECTIVE = sa.func.coalesce(STORED_STUDIES.c.available_at, R.created_at)


def statement() -> sa.Select[Any]:
    """A signed report with its exam's patient, procedure, reader, template and study."""
    return (
        sa.select(
            R.exam_id,
            R.id.label("report_id"),
            R.status,
            R.content,
            R.impression,
            R.critical_level,
            R.preliminary_at,
            R.final_at,
            R.created_at,
            _AMENDED.label("amended"),
            STORED_STUDIES.c.available_at,
            STORED_STUDIES.c.id.label("study_id"),
            EXAMS.c.accession_number,
            PATIENTS.c.id.label("patient_id"),
            PATIENTS.c.mrn,
            PATIENTS.c.given_name,
            PATIENTS.c.family_name,
            PROCEDURES.c.code.label("procedure_code"),
            PROCEDURES.c.name.label("procedure_name"),
            REPORT_TEMPLATES.c.sections.label("template"),
            RADIOLOGISTS.c.code.label("radiologist_code"),
            RADIOLOGISTS.c.name.label("radiologist_name"),
        )
        .join(EXAMS, EXAMS.c.id == R.exam_id)
        .join(PATIENTS, PATIENTS.c.id == EXAMS.c.patient_id)
        .join(PROCEDURES, PROCEDURES.c.id == EXAMS.c.procedure_id)
        .join(RADIOLOGISTS, RADIOLOGISTS.c.id == R.radiologist_id)
        .outerjoin(REPORT_TEMPLATES, REPORT_TEMPLATES.c.id == PROCEDURES.c.report_template_id)
        .outerjoin(STORED_STUDIES, STORED_STUDIES.c.exam_id == R.exam_id)
        .where(R.status != ReportStatus.DRAFT)
    )


def addenda(session: Session, rows: Sequence[Row]) -> Mapping[int, Any]:
    """Each amended report's addenda, oldest first: (text, created_at), by exam id."""
    amended = {row.report_id: row.exam_id for row in rows if row.amended}
    found: dict[int, list[tuple[str, Any]]] = {}
    if not amended:
        return found
    query = (
        sa.select(ADDENDA.c.report_id, ADDENDA.c.text, ADDENDA.c.created_at)
        .where(ADDENDA.c.report_id.in_(list(amended)))
        .order_by(ADDENDA.c.created_at, ADDENDA.c.id)
    )
    for report_id, text, at in session.execute(query):
        found.setdefault(amended[report_id], []).append((text, at))
    return found


def coded_and_text(row: Row) -> tuple[list[dict[str, Any]], list[str]]:
    """The coded values of the template's fields (as CodeableConcepts) and the report's lines."""
    codes: list[dict[str, Any]] = []
    lines: list[str] = []
    content: Mapping[str, Any] = row.content or {}
    for section in parse_sections(row.template or ()):
        values = content.get(section.key)
        values = values if isinstance(values, Mapping) else {}
        filled = [(f, str(values.get(f.key, "")).strip()) for f in section.fields]
        filled = [(f, v) for f, v in filled if v]
        if filled:
            lines.append(section.title.upper())
        for spec, value in filled:
            lines.append(f"{spec.label}: {value}")
            if spec.kind == FieldKind.CODED and spec.code_system is not None:
                meaning = next(
                    (c.meaning for c in CODES[spec.code_system] if c.code == value), value
                )
                codes.append(
                    {
                        "coding": [
                            {
                                "system": CODE_SYSTEM_PREFIX + spec.code_system.value,
                                "code": value,
                                "display": meaning,
                            }
                        ],
                        "text": f"{spec.label}: {meaning}",
                    }
                )
    return codes, lines


def build(row: Row, phi: bool, more: Any = None) -> DiagnosticReport:
    additions: list[tuple[str, Any]] = more or []
    if row.status == ReportStatus.PRELIMINARY:
        status, issued = "preliminary", row.preliminary_at
    elif additions:
        status, issued = "amended", additions[-1][1]
    else:
        status, issued = "final", row.final_at
    codes, lines = coded_and_text(row)
    if row.critical_level != CriticalLevel.NONE:  # the ACR communication level
        level = CriticalLevel(row.critical_level)
        codes.append(
            {
                "coding": [{"system": CODE_SYSTEM_PREFIX + "CRITICAL_LEVEL", "code": level.value}],
                "text": f"Critical finding: {level.value.lower()}",
            }
        )
    lines += ["IMPRESSION", row.impression]
    lines += [f"ADDENDUM ({instant(at)}): {text}" for text, at in additions]
    document = {
        "resourceType": "DiagnosticReport",
        "id": str(row.exam_id),
        "identifier": [{"system": "urn:radflow:accession", "value": row.accession_number}],
        "basedOn": [{"reference": f"ServiceRequest/{row.exam_id}"}],
        "status": status,
        "category": [
            {"coding": [{"system": DIAGNOSTIC_SERVICE, "code": "RAD", "display": "Radiology"}]}
        ],
        "code": {
            "coding": [
                {
                    "system": PROCEDURE_SYSTEM,
                    "code": row.procedure_code,
                    "display": row.procedure_name,
                }
            ],
            "text": row.procedure_name,
        },
        "subject": patient_reference(row, phi),
        "effectiveDateTime": instant(row.available_at or row.created_at),
        "issued": instant(issued),
        "resultsInterpreter": [
            {
                "identifier": {"system": RADIOLOGIST_SYSTEM, "value": row.radiologist_code},
                "display": row.radiologist_name,
            }
        ],
        "imagingStudy": [{"reference": f"ImagingStudy/{row.exam_id}"}] if row.study_id else None,
        "conclusion": row.impression,
        "conclusionCode": codes,
        "presentedForm": [
            {
                "contentType": "text/plain; charset=utf-8",
                "data": base64.b64encode("\n".join(lines).encode()).decode(),
                "title": f"{row.procedure_name} report",
                "creation": instant(issued),
            }
        ],
    }
    return DiagnosticReport.model_validate(drop_empty(document))


def status_clause(value: str) -> sa.ColumnElement[bool]:
    _, code = token(value)
    if code not in DR_STATUSES:
        raise FhirError.one(
            400, "invalid", f"status must be one of {', '.join(DR_STATUSES)}", "status"
        )
    if code == "preliminary":
        return R.status == ReportStatus.PRELIMINARY
    if code == "final":
        return sa.and_(R.status == ReportStatus.FINAL, ~_AMENDED)
    if code == "amended":
        return sa.and_(R.status == ReportStatus.FINAL, _AMENDED)
    return sa.false()


DIAGNOSTIC_REPORT = ResourceType(
    name="DiagnosticReport",
    documentation="The signed report of an exam (" + ", ".join(REPORT_STATUSES) + "); "
    "drafts are not shown.",
    statement=statement,
    key=R.exam_id,
    parameters=by_name(
        logical_id("DiagnosticReport", R.exam_id),
        patient_parameter("patient"),
        patient_parameter("subject"),
        order_parameter("based-on", R.exam_id),
        SearchParameter("status", "token", "preliminary, final or amended.", status_clause),
        date_parameter("date", EFFECTIVE, "The study's time (effectiveDateTime)."),
    ),
    build=build,
    visible=exam_visible,
    more=addenda,
)
