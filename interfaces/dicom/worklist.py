"""The Modality Worklist: which exams a scanner may perform, found by the keys of its C-FIND.

Listed: exams SCHEDULED, CHECKED_IN (ARRIVED) or PREPARED (READY), at the site of the scanner
that asks (a technologist sees the exams of their site). Matched keys: Accession Number,
Patient ID, Patient's Name (wildcards `*` and `?`, case-insensitive), and in the Scheduled
Procedure Step Sequence: Modality, Scheduled Station AE Title and Scheduled Procedure Step Start
Date (a date or a range, in the site's local time). The answer carries the keys the query asked
for, filled from the exam (docs/dicom.md lists them).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from pydicom import config
from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence as DicomSequence
from pynetdicom.dsutils import encode
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
from domain.types import UTCDateTime
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
DST_SLACK = timedelta(hours=1)


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
    first_time: time | None = None
    last_time: time | None = None


@dataclass(frozen=True, slots=True)
class Station:
    """The scanner that asks: a modality resource known by its AE title."""

    resource_id: int
    code: str
    ae_title: str
    site_id: int
    site_code: str
    timezone: str  # the site's: scheduled dates and times are its local ones


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


def _clock(text: str) -> time:
    digits, _, fraction = text.partition(".")
    try:
        if len(digits) not in (2, 4, 6) or not digits.isdigit():
            raise ValueError(text)
        hour, minute, second = (int((digits + "0000")[i : i + 2]) for i in (0, 2, 4))
        micro = int((fraction + "000000")[:6]) if fraction else 0
        return time(hour, minute, second, micro)
    except ValueError:
        raise QueryInvalid(f"scheduled start time {text!r} is not HHMMSS[.FFFFFF]") from None


def parse_times(value: str | None) -> tuple[time | None, time | None]:
    """A DICOM time or time range (TM): `T`, `T1-T2`, `-T2`, `T1-`; `HH`, `HHMM` or `HHMMSS`
    with an optional fraction. A bound given to the hour or minute covers all of it (`-11`
    ends at 11:59:59.999999)."""
    if value is None:
        return None, None
    if "-" not in value:
        return _clock(value), _until(value)
    first, _, last = value.partition("-")
    start, end = (_clock(first) if first else None), (_until(last) if last else None)
    if start is not None and end is not None and end < start:
        raise QueryInvalid(f"scheduled start time range {value!r} ends before it begins")
    return start, end


def _until(text: str) -> time:
    """The last instant a time given to the hour, minute or second covers."""
    clock = _clock(text)
    digits = len(text.partition(".")[0])
    if "." in text:
        return clock
    return clock.replace(
        minute=59 if digits == 2 else clock.minute,
        second=59 if digits <= 4 else clock.second,
        microsecond=999999,
    )


def parse_query(identifier: Dataset) -> WorklistQuery:
    """The matching keys of a C-FIND identifier."""
    step: Dataset = Dataset()
    steps = identifier.get("ScheduledProcedureStepSequence")
    if steps:
        step = steps[0]
    first, last = parse_dates(_key(step.get("ScheduledProcedureStepStartDate")))
    since, until = parse_times(_key(step.get("ScheduledProcedureStepStartTime")))
    return WorklistQuery(
        accession=_key(identifier.get("AccessionNumber")),
        patient_id=_key(identifier.get("PatientID")),
        patient_name=_key(identifier.get("PatientName")),
        modality=_key(step.get("Modality")),
        station_ae_title=_key(step.get("ScheduledStationAETitle")),
        first_day=first,
        last_day=last,
        first_time=since,
        last_time=until,
    )


def _like(pattern: str) -> str:
    escaped = re.sub(r"([\\%_])", r"\\\1", pattern)
    return escaped.replace("*", "%").replace("?", "_")


def _how(pattern: str | None) -> str | None:
    """How a key matches: not at all (None), as a single value ("="), with wildcards ("like")."""
    if not pattern:
        return None
    return "like" if "*" in pattern or "?" in pattern else "="


def _value(pattern: str, how: str | None, *, fold: bool = False) -> str:
    pattern = pattern.upper() if fold else pattern
    return _like(pattern) if how == "like" else pattern


def _matching(column: Any, how: str, name: str, *, fold: bool = False) -> Any:
    """DICOM single value or wildcard matching of one column against the parameter `name`."""
    if fold:
        column = sa.func.upper(column)
    if how == "like":
        return column.like(sa.bindparam(name), escape="\\")
    return column == sa.bindparam(name)


@dataclass(frozen=True, slots=True)
class _Form:
    """Which keys a query matches and how: queries of one form share one statement."""

    accession: str | None
    patient_id: str | None
    patient_name: str | None
    whole_name: bool  # FAMILY^GIVEN, or the family name alone
    modality: str | None
    station: str | None
    since: bool
    until: bool


@functools.cache
def _station() -> sa.Select[*tuple[Any, ...]]:
    return (
        sa.select(
            col(ModalityResource.id),
            col(ModalityResource.code),
            col(ModalityResource.site_id),
            col(Site.code),
            col(Site.timezone),
        )
        .join(Site, col(Site.id) == col(ModalityResource.site_id))
        .where(col(ModalityResource.ae_title) == sa.bindparam("ae_title"))
        .where(col(ModalityResource.active))
    )


def find_station(session: Session, ae_title: str) -> Station | None:
    """The active scanner with this AE title."""
    row = session.connection().execute(_station(), {"ae_title": ae_title}).first()
    if row is None or row[0] is None:
        return None
    return Station(row[0], row[1], ae_title, row[2], row[3], row[4])


# When a worklist entry is scheduled: its booking, or (a walk-in) its arrival.
_START = sa.func.coalesce(col(Appointment.starts_at), col(Exam.status_changed_at))


@functools.cache
def _listed() -> sa.Select[*tuple[Any, ...]]:
    """Every listed exam's worklist columns, earliest first (built once: a scanner asks often,
    and building the statement cost more than running it)."""
    return (
        # Columns, not rows: a worklist of a hundred entries loads no ORM objects.
        sa.select(
            col(Exam.id),
            col(Patient.id),
            col(Exam.accession_number),
            col(Exam.status),
            col(Exam.priority),
            col(Exam.status_changed_at),
            col(Patient.mrn),
            col(Patient.family_name),
            col(Patient.given_name),
            col(Patient.birth_date),
            col(Patient.sex),
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
        .where(col(Exam.status).in_(list(LISTED)))
        .order_by(_START, col(Exam.id))
    )


@functools.lru_cache(maxsize=256)
def _statement(form: _Form) -> sa.Select[*tuple[Any, ...]]:
    """The statement of one form of query, its values bound at each execution (built once per
    form: building and keying a statement was most of reading a short worklist)."""
    statement = (
        _listed()
        .where(col(Exam.site_id) == sa.bindparam("site_id"))
        .limit(sa.bindparam("limit", type_=sa.Integer))
    )
    if form.accession:
        statement = statement.where(_matching(col(Exam.accession_number), form.accession, "acc"))
    if form.patient_id:
        statement = statement.where(_matching(col(Patient.mrn), form.patient_id, "mrn"))
    if form.patient_name:
        whole = col(Patient.family_name) + "^" + col(Patient.given_name)
        target = whole if form.whole_name else col(Patient.family_name)
        statement = statement.where(_matching(target, form.patient_name, "name", fold=True))
    if form.modality:
        statement = statement.where(_matching(col(Procedure.modality), form.modality, "modality"))
    if form.station:
        statement = statement.where(
            _matching(col(ModalityResource.ae_title), form.station, "station")
        )
    # With a station asked for, only booked exams can match, and the bookings' index finds them.
    when = col(Appointment.starts_at) if form.station else _START
    if form.since:
        statement = statement.where(when >= sa.bindparam("since", type_=UTCDateTime))
    if form.until:
        statement = statement.where(when <= sa.bindparam("until", type_=UTCDateTime))
    return statement


def find_entries(
    session: Session, station: Station, query: WorklistQuery, *, limit: int
) -> list[WorklistEntry]:
    """The worklist entries of the station's site matching the query, earliest first."""
    zone = ZoneInfo(station.timezone)
    name = (query.patient_name or "").rstrip("^")
    form = _Form(
        accession=_how(query.accession),
        patient_id=_how(query.patient_id),
        patient_name=_how(name),
        whole_name="^" in name,
        modality=_how(query.modality),
        station=_how(query.station_ae_title),
        since=query.first_day is not None,
        until=query.last_day is not None,
    )
    values: dict[str, Any] = {"site_id": station.site_id, "limit": limit}
    if query.accession:
        values["acc"] = _value(query.accession, form.accession)
    if query.patient_id:
        values["mrn"] = _value(query.patient_id, form.patient_id)
    if name:
        values["name"] = _value(name, form.patient_name, fold=True)
    if query.modality:
        values["modality"] = _value(query.modality, form.modality)
    if query.station_ae_title:
        values["station"] = _value(query.station_ae_title, form.station)
    # The window in UTC: from the first day at the earliest time asked for to the last day at
    # the latest, in the site's zone, an hour wider each side (a bound in a daylight-saving
    # change); each row's local date and time decide below.
    if query.first_day is not None:
        since = datetime.combine(query.first_day, query.first_time or time.min, zone)
        values["since"] = since.astimezone(UTC) - DST_SLACK
    if query.last_day is not None:
        until = datetime.combine(query.last_day, query.last_time or time.max, zone)
        values["until"] = until.astimezone(UTC) + DST_SLACK
    statement = _statement(form)
    entries = []
    # On the session's connection: plain rows of columns, none of the ORM's result machinery.
    for row in session.connection().execute(statement, values):
        local = (row[17] or row[5]).astimezone(zone)
        if query.first_day is not None and local.date() < query.first_day:
            continue
        if query.last_day is not None and local.date() > query.last_day:
            continue
        # Date and time are matched each on its own (PS3.4 C.2.2.2.5, without combined
        # date-time matching): a time range picks the same hours of every day asked for.
        if query.first_time is not None and local.time() < query.first_time:
            continue
        if query.last_time is not None and local.time() > query.last_time:
            continue
        entries.append(
            WorklistEntry(
                exam_id=cast(int, row[0]),
                patient_id=cast(int, row[1]),
                accession=row[2],
                status=row[3],
                priority=row[4],
                mrn=row[6],
                family_name=row[7],
                given_name=row[8],
                birth_date=row[9],
                sex=row[10],
                referrer=row[11],
                procedure_code=row[12],
                procedure_name=row[13],
                modality=str(row[14]),
                station_ae_title=row[15] or "",
                station_name=row[16] or "",
                starts=local,
            )
        )
    return entries


# An attribute's value: text, or the items of a sequence (each the values of its attributes).
Values = dict[str, "str | list[Values]"]


def _code(value: str, meaning: str) -> list[Values]:
    return [
        {"CodeValue": value, "CodingSchemeDesignator": CODING_SCHEME, "CodeMeaning": meaning[:64]}
    ]


def entry_values(entry: WorklistEntry, uid_root: str) -> Values:
    """Every attribute radflow knows of one worklist entry, by keyword."""
    starts = entry.starts
    return {
        "AccessionNumber": entry.accession,
        "ReferringPhysicianName": entry.referrer[:64],
        "PatientName": f"{entry.family_name}^{entry.given_name}",
        "PatientID": entry.mrn,
        "PatientBirthDate": entry.birth_date.strftime("%Y%m%d"),
        "PatientSex": entry.sex if entry.sex in {"M", "F", "O"} else "",
        "StudyInstanceUID": study_instance_uid(uid_root, entry.exam_id),
        "RequestedProcedureID": entry.accession,
        "RequestedProcedureDescription": entry.procedure_name[:64],
        "RequestedProcedureCodeSequence": _code(entry.procedure_code, entry.procedure_name),
        "RequestedProcedurePriority": PRIORITIES[entry.priority],
        "ScheduledProcedureStepSequence": [
            {
                "Modality": entry.modality,
                "ScheduledStationAETitle": entry.station_ae_title,
                "ScheduledStationName": entry.station_name,
                "ScheduledProcedureStepStartDate": starts.strftime("%Y%m%d") if starts else "",
                "ScheduledProcedureStepStartTime": starts.strftime("%H%M%S") if starts else "",
                "ScheduledProcedureStepID": entry.accession,
                "ScheduledProcedureStepDescription": entry.procedure_name[:64],
                "ScheduledProtocolCodeSequence": _code(entry.procedure_code, entry.procedure_name),
                "ScheduledProcedureStepStatus": LISTED[entry.status],
                "ScheduledPerformingPhysicianName": "",
            }
        ],
    }


def _element(tag: int, vr: str, value: object) -> DataElement:
    # The values are radflow's own, already in their VR's form: no per-element validation
    # (it was most of the cost of answering a worklist of a hundred entries).
    return DataElement(tag, vr, value, validation_mode=config.IGNORE)


def _vr(tag: int, sent: str) -> str:
    try:
        return str(dictionary_VR(tag))
    except KeyError:
        return sent


# The keys a C-FIND asks for, as its answers are shaped by them: for each element of the
# identifier, its tag, keyword, VR and (a sequence) the keys of its first item.
Shape = tuple[tuple[int, str, str, "Shape | None"], ...]


def shape_of(query: Dataset) -> Shape:
    """The keys of a C-FIND identifier (its Specific Character Set left out: radflow's own)."""
    keys = []
    for element in query:
        tag = int(element.tag)
        if tag == 0x00080005:
            continue
        item = None
        if element.VR == "SQ":
            item = shape_of(element.value[0]) if element.value else ()
        keys.append((tag, element.keyword, str(element.VR), item))
    return tuple(keys)


def _everything(values: Values) -> Dataset:
    out = Dataset()
    for keyword, value in values.items():
        tag = int(tag_for_keyword(keyword) or 0)
        if isinstance(value, list):
            out.add(_element(tag, "SQ", DicomSequence([_everything(v) for v in value])))
        else:
            out.add(_element(tag, _vr(tag, "LO"), value))
    return out


def _filled(values: Values, shape: Shape) -> Dataset:
    out = Dataset()
    for tag, keyword, vr, item in shape:
        value = values.get(keyword)
        if isinstance(value, list):
            # An empty item asked for (or none): every attribute of the item radflow knows.
            items = [_filled(v, item) if item else _everything(v) for v in value]
            out.add(_element(tag, "SQ", DicomSequence(items)))
        else:
            out.add(_element(tag, _vr(tag, vr), value or None))
    return out


def answer(values: Values, shape: Shape) -> Dataset:
    """The response identifier: the asked keys, each filled from `values` (empty if unknown)."""
    out = _filled(values, shape)
    out.add(_element(0x00080005, "CS", CHARACTER_SET))
    return out


# Encoded answers, by everything they are made of: the entry's whole content (so a change to
# the exam, its patient, booking or procedure is a new key and nothing is ever invalidated),
# the asked keys, the UID root and the transfer syntax's encoding. A scanner asks for its day
# again and again: pydicom builds and encodes an entry once, and every later answer is those
# bytes as they are. Least recently used answers are dropped past `ENCODED_ANSWERS`
# (lru_cache is thread-safe: every association thread shares it).
ENCODED_ANSWERS = 20_000


@dataclass(frozen=True, slots=True)
class Encoding:
    """How an association's data sets are encoded (its presentation context's transfer syntax)."""

    implicit_vr: bool = False
    little_endian: bool = True
    deflated: bool = False


@functools.lru_cache(maxsize=ENCODED_ANSWERS)
def _encoded(entry: WorklistEntry, shape: Shape, uid_root: str, encoding: Encoding) -> bytes:
    built = answer(entry_values(entry, uid_root), shape)
    raw = encode(built, encoding.implicit_vr, encoding.little_endian, encoding.deflated)
    if not raw:
        raise QueryInvalid("radflow could not encode a worklist entry for this query")
    return raw


def answers(
    entries: Sequence[WorklistEntry], query: Dataset, uid_root: str, encoding: Encoding
) -> list[bytes]:
    """The encoded response identifiers of a C-FIND, one per entry, in the association's
    transfer syntax."""
    shape = shape_of(query)
    return [_encoded(entry, shape, uid_root, encoding) for entry in entries]
