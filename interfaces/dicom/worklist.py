"""The Modality Worklist: which exams a scanner may perform, found by the keys of its C-FIND.

Listed: exams SCHEDULED, CHECKED_IN (ARRIVED) or PREPARED (READY), at the site of the scanner
that asks (a technologist sees the exams of their site). Matched keys: Accession Number,
Patient ID, Patient's Name (wildcards `*` and `?`, case-insensitive), and in the Scheduled
Procedure Step Sequence: Modality, Scheduled Station AE Title and Scheduled Procedure Step Start
Date (a date or a range, in the site's local time). The answer carries the keys the query asked
for, filled from the exam (docs/dicom.md lists them).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence as DicomSequence
from sqlalchemy.orm import Session
from sqlmodel import col

from domain.enums import AppointmentStatus, ExamStatus, Priority
from domain.models import (
    Appointment,
    Exam,
    ModalityResource,
    Patient,
    Procedure,
    Referrer,
    Site,
)
from domain.types import pk
from interfaces.dicom.uids import study_instance_uid

CHARACTER_SET = "ISO_IR 192"  # UTF-8
CODING_SCHEME = "99RADFLOW"  # the department's own catalogue: a private coding scheme
LISTED = {
    ExamStatus.SCHEDULED: "SCHEDULED",
    ExamStatus.CHECKED_IN: "ARRIVED",
    ExamStatus.PREPARED: "READY",
}
LIVE_APPOINTMENTS = (
    AppointmentStatus.BOOKED,
    AppointmentStatus.CONFIRMED,
    AppointmentStatus.ARRIVED,
)
PRIORITIES = {Priority.STAT: "STAT", Priority.URGENT: "HIGH", Priority.ROUTINE: "ROUTINE"}


class QueryInvalid(Exception):
    """A C-FIND identifier radflow cannot match (a malformed date range, say)."""


@dataclass(frozen=True, slots=True)
class WorklistQuery:
    """The matching keys of one C-FIND; None is universal matching."""

    accession: str | None = None
    patient_id: str | None = None
    patient_name: str | None = None
    modality: str | None = None
    station_ae_title: str | None = None
    first_day: date | None = None
    last_day: date | None = None


@dataclass(frozen=True, slots=True)
class Station:
    """The scanner that asks: a modality resource known by its AE title."""

    resource_id: int
    code: str
    ae_title: str
    site_id: int
    site_code: str


@dataclass(frozen=True, slots=True)
class WorklistEntry:
    """One scheduled procedure step, as a scanner needs it."""

    exam_id: int
    patient_id: int
    accession: str
    status: ExamStatus
    priority: Priority
    mrn: str
    family_name: str
    given_name: str
    birth_date: date
    sex: str
    referrer: str
    procedure_code: str
    procedure_name: str
    modality: str
    station_ae_title: str
    station_name: str
    starts: datetime | None  # in the site's local time


def _key(value: object) -> str | None:
    text = str(value or "").strip()
    return None if text in {"", "*"} else text


def _day(text: str) -> date:
    try:
        return datetime.strptime(text, "%Y%m%d").date()
    except ValueError:
        raise QueryInvalid(f"scheduled start date {text!r} is not YYYYMMDD") from None


def parse_dates(value: str | None) -> tuple[date | None, date | None]:
    """A DICOM date or date range (DA): `D`, `D1-D2`, `-D2`, `D1-`."""
    if value is None:
        return None, None
    if "-" not in value:
        day = _day(value)
        return day, day
    first, _, last = value.partition("-")
    start, end = (_day(first) if first else None), (_day(last) if last else None)
    if start is not None and end is not None and end < start:
        raise QueryInvalid(f"scheduled start date range {value!r} ends before it begins")
    return start, end


def parse_query(identifier: Dataset) -> WorklistQuery:
    """The matching keys of a C-FIND identifier."""
    step: Dataset = Dataset()
    steps = identifier.get("ScheduledProcedureStepSequence")
    if steps:
        step = steps[0]
    first, last = parse_dates(_key(step.get("ScheduledProcedureStepStartDate")))
    return WorklistQuery(
        accession=_key(identifier.get("AccessionNumber")),
        patient_id=_key(identifier.get("PatientID")),
        patient_name=_key(identifier.get("PatientName")),
        modality=_key(step.get("Modality")),
        station_ae_title=_key(step.get("ScheduledStationAETitle")),
        first_day=first,
        last_day=last,
    )


def _like(pattern: str) -> str:
    escaped = re.sub(r"([\\%_])", r"\\\1", pattern)
    return escaped.replace("*", "%").replace("?", "_")


def _matching(column: Any, pattern: str, *, fold: bool = False) -> Any:
    """DICOM single value or wildcard matching of one column."""
    if fold:
        column, pattern = sa.func.upper(column), pattern.upper()
    if "*" in pattern or "?" in pattern:
        return column.like(_like(pattern), escape="\\")
    return column == pattern


def find_station(session: Session, ae_title: str) -> Station | None:
    """The active scanner with this AE title."""
    row = session.execute(
        sa.select(
            col(ModalityResource.id),
            col(ModalityResource.code),
            col(ModalityResource.site_id),
            col(Site.code),
        )
        .join(Site, col(Site.id) == col(ModalityResource.site_id))
        .where(col(ModalityResource.ae_title) == ae_title, col(ModalityResource.active))
    ).first()
    if row is None or row[0] is None:
        return None
    return Station(row[0], row[1], ae_title, row[2], row[3])


def find_entries(
    session: Session, station: Station, query: WorklistQuery, *, limit: int
) -> list[WorklistEntry]:
    """The worklist entries of the station's site matching the query, earliest first."""
    site = session.get(Site, station.site_id)
    assert site is not None
    zone = ZoneInfo(site.timezone)
    start = sa.func.coalesce(col(Appointment.starts_at), col(Exam.status_changed_at))
    statement = (
        sa.select(
            Exam,
            Patient,
            col(Referrer.name),
            col(Procedure.code),
            col(Procedure.name),
            col(Procedure.modality),
            col(ModalityResource.ae_title),
            col(ModalityResource.code),
            col(Appointment.starts_at),
        )
        .join(Patient, col(Patient.id) == col(Exam.patient_id))
        .join(Referrer, col(Referrer.id) == col(Exam.referrer_id))
        .join(Procedure, col(Procedure.id) == col(Exam.procedure_id))
        .outerjoin(
            Appointment,
            sa.and_(
                col(Appointment.exam_id) == col(Exam.id),
                col(Appointment.status).in_(LIVE_APPOINTMENTS),
            ),
        )
        .outerjoin(ModalityResource, col(ModalityResource.id) == col(Appointment.resource_id))
        .where(col(Exam.status).in_(list(LISTED)), col(Exam.site_id) == station.site_id)
        .order_by(start, col(Exam.id))
        .limit(limit)
    )
    if query.accession:
        statement = statement.where(_matching(col(Exam.accession_number), query.accession))
    if query.patient_id:
        statement = statement.where(_matching(col(Patient.mrn), query.patient_id))
    if query.patient_name:
        name = query.patient_name.rstrip("^")
        whole = col(Patient.family_name) + "^" + col(Patient.given_name)
        target = whole if "^" in name else col(Patient.family_name)
        statement = statement.where(_matching(target, name, fold=True))
    if query.modality:
        statement = statement.where(_matching(col(Procedure.modality), query.modality))
    if query.station_ae_title:
        statement = statement.where(
            _matching(col(ModalityResource.ae_title), query.station_ae_title)
        )
    # The window in UTC is a day wider each side; each row's local date decides below.
    if query.first_day is not None:
        since = datetime.combine(query.first_day, datetime.min.time(), UTC) - timedelta(days=1)
        statement = statement.where(start >= since)
    if query.last_day is not None:
        until = datetime.combine(query.last_day, datetime.min.time(), UTC) + timedelta(days=2)
        statement = statement.where(start < until)
    entries = []
    for (
        exam,
        patient,
        referrer,
        code,
        name,
        modality,
        ae_title,
        resource,
        starts,
    ) in session.execute(statement):
        local = (starts or exam.status_changed_at).astimezone(zone)
        if query.first_day is not None and local.date() < query.first_day:
            continue
        if query.last_day is not None and local.date() > query.last_day:
            continue
        entries.append(
            WorklistEntry(
                exam_id=pk(exam),
                patient_id=pk(patient),
                accession=exam.accession_number,
                status=exam.status,
                priority=exam.priority,
                mrn=patient.mrn,
                family_name=patient.family_name,
                given_name=patient.given_name,
                birth_date=patient.birth_date,
                sex=patient.sex,
                referrer=referrer,
                procedure_code=code,
                procedure_name=name,
                modality=str(modality),
                station_ae_title=ae_title or "",
                station_name=resource or "",
                starts=local,
            )
        )
    return entries


def _code(value: str, meaning: str) -> DicomSequence:
    item = Dataset()
    item.CodeValue = value
    item.CodingSchemeDesignator = CODING_SCHEME
    item.CodeMeaning = meaning[:64]
    return DicomSequence([item])


def entry_dataset(entry: WorklistEntry, uid_root: str) -> Dataset:
    """Every attribute radflow knows of one worklist entry."""
    ds = Dataset()
    ds.SpecificCharacterSet = CHARACTER_SET
    ds.AccessionNumber = entry.accession
    ds.ReferringPhysicianName = entry.referrer[:64]
    ds.PatientName = f"{entry.family_name}^{entry.given_name}"
    ds.PatientID = entry.mrn
    ds.PatientBirthDate = entry.birth_date.strftime("%Y%m%d")
    ds.PatientSex = entry.sex if entry.sex in {"M", "F", "O"} else ""
    ds.StudyInstanceUID = study_instance_uid(uid_root, entry.exam_id)
    ds.RequestedProcedureID = entry.accession
    ds.RequestedProcedureDescription = entry.procedure_name[:64]
    ds.RequestedProcedureCodeSequence = _code(entry.procedure_code, entry.procedure_name)
    ds.RequestedProcedurePriority = PRIORITIES[entry.priority]
    step = Dataset()
    step.Modality = entry.modality
    step.ScheduledStationAETitle = entry.station_ae_title
    step.ScheduledStationName = entry.station_name
    step.ScheduledProcedureStepStartDate = entry.starts.strftime("%Y%m%d") if entry.starts else ""
    step.ScheduledProcedureStepStartTime = entry.starts.strftime("%H%M%S") if entry.starts else ""
    step.ScheduledProcedureStepID = entry.accession
    step.ScheduledProcedureStepDescription = entry.procedure_name[:64]
    step.ScheduledProtocolCodeSequence = _code(entry.procedure_code, entry.procedure_name)
    step.ScheduledProcedureStepStatus = LISTED[entry.status]
    step.ScheduledPerformingPhysicianName = ""
    ds.ScheduledProcedureStepSequence = DicomSequence([step])
    return ds


def answer(full: Dataset, query: Dataset) -> Dataset:
    """The response identifier: the query's keys, each filled from `full` (empty if unknown)."""
    out = Dataset()
    for element in query:
        tag = element.tag
        if tag == 0x00080005:  # Specific Character Set: ours, below
            continue
        if tag not in full:
            out.add_new(tag, element.VR, None)
            continue
        value = full[tag]
        if element.VR == "SQ" and value.VR == "SQ" and element.value:
            out.add_new(
                tag, "SQ", DicomSequence([answer(i, element.value[0]) for i in value.value])
            )
        else:
            out.add(value)
    out.SpecificCharacterSet = CHARACTER_SET
    return out


def answers(entries: Sequence[WorklistEntry], query: Dataset, uid_root: str) -> list[Dataset]:
    """The response identifiers of a C-FIND, one per entry."""
    return [answer(entry_dataset(entry, uid_root), query) for entry in entries]
