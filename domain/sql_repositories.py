"""The repositories of domain/repositories.py over SQLAlchemy, in the command's transaction.

The hot lookups are statements built once with bound parameters (building and keying a
statement for each command cost more than running it); a lookup by primary key goes through
the session's identity map, so a row the command (or its access check) already loaded costs no
statement.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import (
    LoaderCallableStatus,
    Mapper,
    Session,
    aliased,
)
from sqlalchemy.orm.attributes import flag_modified, instance_state
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import SQLModel, col

from domain.access import visible_exam_ids
from domain.enums import (
    MUST_ACKNOWLEDGE,
    AppointmentStatus,
    ExamStatus,
    FollowUpStatus,
    Modality,
    NotificationChannel,
    NotificationStatus,
    NotificationTemplate,
    PatientClass,
    Priority,
    Respondent,
    Subspecialty,
)
from domain.lifecycle import Actor
from domain.loaded_rows import as_inserted, as_loaded, columns_of, key_of
from domain.models import (
    Acquisition,
    Appointment,
    BalancerRun,
    Exam,
    ExamPrepItem,
    FollowUpRecommendation,
    MetadataValidation,
    Notification,
    OpeningHours,
    Patient,
    PrepProtocolItem,
    Procedure,
    Radiologist,
    RadiologistSubspecialty,
    Read,
    ReadingPace,
    Referrer,
    Report,
    ResultCommunication,
    RuleSetActivation,
    RuleSetVersion,
    SatisfactionSurvey,
    Shift,
    SitePrivilege,
    SlotClaim,
    StoredStudy,
    TurnaroundTarget,
)
from domain.models._columns import core_table
from domain.prepared import Answer, PreparedStatement, Statement, prepared
from domain.reference_rows import ReferenceRows, detached_copy, is_catalogue
from domain.repositories import AcquisitionStart, OrderParties, ReaderStanding, StorageFacts

M = TypeVar("M", bound=SQLModel)
# An exam in these states will not fulfil a follow-up.
UNFULFILLING = [ExamStatus.CANCELLED, ExamStatus.NO_SHOW]


def _exam_id() -> sa.BindParameter[int]:
    return sa.bindparam("exam_id", type_=sa.Integer())


_PLACER_UNIQUE = next(
    c
    for c in core_table(Exam).constraints
    if isinstance(c, sa.UniqueConstraint) and c.name == "uq_exam_placer_order"
)
_EXISTING_ORDER = sa.select(Exam).where(
    col(Exam.order_source) == sa.bindparam("source"),
    col(Exam.placer_order_number) == sa.bindparam("placer"),
    col(Exam.placer_scope) == sa.bindparam("scope"),
)


def _order_parties() -> sa.Select[Any]:
    exams, patients, referrers = core_table(Exam), core_table(Patient), core_table(Referrer)
    one = sa.select(sa.literal(1).label("one")).subquery("asked")
    placed = sa.and_(
        exams.c.order_source == sa.bindparam("source"),
        exams.c.placer_order_number == sa.bindparam("placer"),
        exams.c.placer_scope == sa.bindparam("scope"),
    )
    return sa.select(*columns_of(Patient), *columns_of(Referrer), *columns_of(Exam)).select_from(
        one.outerjoin(patients, patients.c.mrn == sa.bindparam("mrn"))
        .outerjoin(referrers, referrers.c.code == sa.bindparam("code"))
        .outerjoin(exams, placed)
    )


# One row whatever is found: the patient's columns, the referrer's, then the placed order's
# exam's, each null when there is no such row (the three are unique keys).
_ORDER_PARTIES = _order_parties()
_PATIENT_COLUMNS = len(columns_of(Patient))
_PARTIES_EXAM_AT = _PATIENT_COLUMNS + len(columns_of(Referrer))


def _loaded_or_none(session: Session, model: type[M], values: Sequence[Any]) -> M | None:
    """The row of `model` with these values (`as_loaded`), or None when an outer join found
    none (its key is null)."""
    if values[_key_at(model)] is None:
        return None
    return as_loaded(session, model, values)


@cache
def _key_at(model: type[SQLModel]) -> int:
    return next(i for i, c in enumerate(columns_of(model)) if c.primary_key)


class SqlExams:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, exam_id: int) -> Exam | None:
        return _get(self.session, Exam, exam_id)

    def by_placer_order(self, source: str, placer: str, scope: str) -> Exam | None:
        parameters = {"source": source, "placer": placer, "scope": scope}
        return _first(_loaded(self.session, Exam, _EXISTING_ORDER, parameters))

    def order_parties(
        self, *, source: str, placer: str, scope: str, patient_mrn: str, referrer_code: str
    ) -> OrderParties:
        session = self.session
        _autoflush(session)
        parameters = {
            "source": source,
            "placer": placer,
            "scope": scope,
            "mrn": patient_mrn,
            "code": referrer_code,
        }
        row = _execute(session, _ORDER_PARTIES, parameters).one()
        return OrderParties(
            patient=_loaded_or_none(session, Patient, row[:_PATIENT_COLUMNS]),
            referrer=_loaded_or_none(session, Referrer, row[_PATIENT_COLUMNS:_PARTIES_EXAM_AT]),
            existing=_loaded_or_none(session, Exam, row[_PARTIES_EXAM_AT:]),
        )

    def add_order(self, exam: Exam) -> bool:
        if self.session.get_bind().dialect.name == "sqlite":
            # The command's transaction took SQLite's write lock as it began (BEGIN IMMEDIATE):
            # no other command can have placed this order since `by_placer_order` looked, so
            # no savepoint is needed to survive a race that cannot happen. Written by one Core
            # INSERT: the order's checklist and events need its id.
            self.session.add(exam)
            write_new_row(self.session, exam)
            return True
        try:
            with self.session.begin_nested():
                self.session.add(exam)
                self.session.flush()
        except IntegrityError as exc:
            if not is_unique_violation(exc, _PLACER_UNIQUE):
                raise
            return False
        return True

    def visible_to(self, actor: Actor, exam_ids: list[int]) -> set[int]:
        return visible_exam_ids(self.session, actor, exam_ids)

    def touch(self, exam: Exam) -> None:
        flag_modified(exam, "status")

    def waiting_among(self, exam_ids: list[int]) -> set[int]:
        query = sa.select(col(Exam.id)).where(
            col(Exam.id).in_(exam_ids), col(Exam.status) == ExamStatus.READY_FOR_READ
        )
        return {int(i) for i in self.session.scalars(query) if i is not None}

    def of_patient(self, patient_id: int) -> list[Exam]:
        query = (
            sa.select(Exam)
            .where(col(Exam.patient_id) == patient_id)
            .order_by(col(Exam.ordered_at), col(Exam.id))
        )
        return list(self.session.scalars(query))


@dataclass(frozen=True, eq=False)  # one per model (`_shape_of`): compared by identity
class _Shape:
    """How a table model's loaded rows are written back: its table, its key and version
    (the exam's) attributes with their columns, the columns of its other mapped attributes,
    and its place in the tables' dependency order (parents first, as the flush writes)."""

    table: sa.Table
    key: tuple[str, str]
    version: tuple[str, str] | None
    columns: Mapping[str, str]
    order: int


@cache
def _shape_of(mapper: Mapper[Any]) -> _Shape | None:
    """The write-back shape of a model with a one-column key, else None (the flush's)."""
    table = mapper.local_table
    if not isinstance(table, sa.Table) or len(mapper.primary_key) != 1:
        return None

    def named(column: sa.ColumnElement[Any]) -> tuple[str, str]:
        return mapper.get_property_by_column(column).key, str(column.key)

    key = named(mapper.primary_key[0])
    version = None if mapper.version_id_col is None else named(mapper.version_id_col)
    skipped = {key[1], version[1] if version else None}
    columns = {
        prop.key: prop.columns[0].key
        for prop in mapper.column_attrs
        if prop.columns[0].table is table and prop.columns[0].key not in skipped
    }
    order = table.metadata.sorted_tables.index(table)
    return _Shape(table, key, version, columns, order)


def write_order(row: object) -> tuple[int, Any]:
    """Where a changed row's UPDATE goes among the command's: parents' tables first, then by
    key (one order for every command, as the flush's, so two never lock rows crosswise)."""
    state = instance_state(row)
    shape = _shape_of(state.mapper)
    if shape is None:
        return (-1, 0)
    return (shape.order, state.dict.get(shape.key[0]) or 0)


@cache
def _row_update(shape: _Shape, columns: frozenset[str]) -> PreparedStatement:
    """UPDATE <table> SET <columns> WHERE <key> = :row_key, and for a versioned table
    `, version = :next_version ... AND version = :seen`: built once per table and set of
    changed columns (a command changes one of a handful of sets), compiled once per dialect
    (domain/prepared.py)."""
    table = shape.table
    names = [f"new_{name}" for name in sorted(columns)]
    values: dict[str, Any] = {
        name: sa.bindparam(f"new_{name}", type_=table.c[name].type) for name in sorted(columns)
    }
    update = sa.update(table).where(table.c[shape.key[1]] == sa.bindparam("row_key"))
    names.append("row_key")
    if shape.version is not None:
        values[shape.version[1]] = sa.bindparam("next_version")
        update = update.where(table.c[shape.version[1]] == sa.bindparam("seen"))
        names += ["next_version", "seen"]
    return PreparedStatement(update.values(values), names)


def write_row_changes(session: Session, row: object) -> None:
    """Write a loaded row's changes with one Core UPDATE by its key, as the ORM's flush would
    (for the exam, guarded by the version it was loaded at: the same version bump, and
    `StaleDataError` when another transaction changed it first), then mark the row clean so
    the flush skips it. The ORM's unit of work costs about three times the statement for one
    row.

    A row with anything but plain column changes (or none), of a model without a one-column
    key, or of the catalogue (whose flush tells the process's kept rows, reference_rows.py),
    is left to the flush."""
    state = instance_state(row)
    if not state.modified or state.key is None or state.deleted or is_catalogue(type(row)):
        return
    shape = _shape_of(state.mapper)
    if shape is None:
        return
    changed: dict[str, Any] = {}
    for key, before in state.committed_state.items():
        column = shape.columns.get(key)
        if column is None:
            return  # the version set by hand, a key, or an unmapped key: the flush decides
        now = state.dict.get(key)
        if (
            before is LoaderCallableStatus.NO_VALUE or before != now
        ):  # NO_VALUE: `touch`, or set unloaded
            changed[column] = now
    if not changed:
        return
    parameters = {f"new_{name}": value for name, value in changed.items()}
    parameters["row_key"] = state.dict[shape.key[0]]
    if shape.version is not None:
        seen = state.dict[shape.version[0]]
        parameters |= {"seen": seen, "next_version": seen + 1}
    result = _row_update(shape, frozenset(changed)).execute(session.connection(), [parameters])
    if result.rowcount != 1:
        raise StaleDataError(f"{shape.table.name} {parameters['row_key']} was changed since")
    if shape.version is not None:
        state.dict[shape.version[0]] = parameters["next_version"]
    # What the flush does after its own UPDATE: every attribute committed, the row no longer
    # in the session's set of modified objects (there is no public spelling of this step).
    state._commit_all(state.dict, session.identity_map)


# The version the ORM's flush gives a new versioned row (its default generator's first).
FIRST_VERSION = 1


@cache
def _row_insert(table: sa.Table) -> sa.Insert:
    return sa.insert(table)


@cache
def _prepared_insert(
    table: sa.Table, columns: tuple[str, ...], drawn_key: str | None
) -> PreparedStatement | None:
    """INSERT INTO <table> (<columns>), and `RETURNING <drawn_key>` when the database draws
    the key: built once per table and set of given columns, compiled once per dialect
    (domain/prepared.py). None when a column left out has a default SQLAlchemy computes in
    Python (the Core INSERT, which computes it, then writes the row)."""
    for column in table.c:
        default = column.default
        if column.name not in columns and default is not None and not default.is_sequence:
            return None
    insert = sa.insert(table)
    if drawn_key is not None:
        insert = insert.returning(table.c[drawn_key])
    return PreparedStatement(insert, columns)


def write_new_row(session: Session, row: object) -> None:
    """Insert a new row the command staged with one Core INSERT of the values it was given
    (its key drawn by the database unless given), then hand it to the session as a loaded
    row, as the flush would leave it (a column the database filled in is loaded when first
    read). The ORM's unit of work costs several times the statement for one row.

    A versioned row (an exam) starts at version 1, as the flush starts it. A row of a model
    without a one-column key or of the catalogue is left to the flush."""
    state = instance_state(row)
    if not state.pending or is_catalogue(type(row)):
        return
    shape = _shape_of(state.mapper)
    if shape is None:
        return
    given = state.dict
    values = {column: given[key] for key, column in shape.columns.items() if key in given}
    if shape.version is not None:
        values[shape.version[1]] = given[shape.version[0]] = FIRST_VERSION
    key_name, key_column = shape.key
    key = given.get(key_name)
    if key is not None:
        values[key_column] = key
    prepared = _prepared_insert(
        shape.table, tuple(sorted(values)), key_column if key is None else None
    )
    if prepared is not None:
        result = prepared.execute(session.connection(), [values])
        if key is None:
            key = result.scalar_one()
    else:
        result = session.connection().execute(_row_insert(shape.table), values)
        if key is None:
            inserted = result.inserted_primary_key
            assert inserted is not None  # a one-row INSERT with a one-column key
            key = inserted[0]
    as_inserted(session, row, key)


def _copy(row: M | None) -> M | None:
    return None if row is None else detached_copy(row)


def _get(session: Session, model: type[M], key: Any) -> M | None:
    """A row by primary key: from the identity map when the command already loaded it (as
    `Session.get` would, without its option handling, which costs more than the lookup),
    else read by a Core statement built once per model and handed to the session as loaded
    (domain/loaded_rows.py; `Session.get` builds and caches its SELECT anew each time). A model
    without a one-column key goes to `Session.get`."""
    held = session.identity_map.get(key_of(model, key))
    if isinstance(held, model) and not instance_state(held).expired:
        return held
    by_key = _row_by_key(model)
    if by_key is None or held is not None:  # an expired row: the session refreshes its own
        return session.get(model, key)
    row = _execute(session, by_key, {"key": key}).first()
    return None if row is None else as_loaded(session, model, row)


def _execute(session: Session, statement: Statement, parameters: dict[str, Any]) -> Answer:
    """Run a Core statement built once (a constant, or one a cached function built), prepared
    and sent to the driver in the command's transaction (domain/prepared.py)."""
    return prepared(statement).execute(session.connection(), [parameters])


def _autoflush(session: Session) -> None:
    """Flush pending changes before a Core read, as the ORM's query would (autoflush)."""
    if session.autoflush and (session.new or session.dirty or session.deleted):
        session.flush()


def _loaded(
    session: Session, model: type[M], statement: sa.Select[Any], parameters: dict[str, Any]
) -> list[M]:
    """The rows of `model` an ORM `select(model)` would load, read by the same statement over
    the model's columns (`_columns_select`) and handed to the session as loaded: the ORM's
    loading context and row processors, built per execution, cost more than the statement.
    Pending changes are flushed first, as the ORM's query would (autoflush)."""
    _autoflush(session)
    rows = _execute(session, _columns_select(statement, model), parameters)
    return [as_loaded(session, model, row) for row in rows]


def _first(rows: list[M]) -> M | None:
    return rows[0] if rows else None


def _any_row(session: Session, statement: sa.Select[Any], parameters: dict[str, Any]) -> bool:
    """Whether a Core statement finds a row (after the autoflush the ORM's query would do)."""
    _autoflush(session)
    return _execute(session, statement, parameters).first() is not None


@cache
def _columns_select(statement: sa.Select[Any], model: type[SQLModel]) -> sa.Select[Any]:
    """`select(model)...` as the same SELECT of the model's columns (in `as_loaded`'s order),
    built once per statement."""
    return statement.with_only_columns(*columns_of(model))


@cache
def _row_by_key(model: type[SQLModel]) -> sa.Select[Any] | None:
    mapper = sa.inspect(model)
    if len(mapper.primary_key) != 1:
        return None
    return sa.select(*columns_of(model)).where(mapper.primary_key[0] == sa.bindparam("key"))


@cache
def _by_natural_key(model: type[SQLModel], column: str) -> sa.Select[Any]:
    return sa.select(model).where(getattr(model, column) == sa.bindparam("key")).limit(1)


_TURNAROUND = sa.select(col(TurnaroundTarget.minutes)).where(
    col(TurnaroundTarget.procedure_id) == sa.bindparam("procedure_id"),
    col(TurnaroundTarget.priority) == sa.bindparam("priority"),
    col(TurnaroundTarget.patient_class) == sa.bindparam("patient_class"),
)
_OPENING_HOURS = sa.select(OpeningHours).where(
    col(OpeningHours.resource_id) == sa.bindparam("resource_id")
)


def _reader_standing() -> sa.Select[Any]:
    """The radiologist by code, with their credential, site privilege and open shift: one
    statement where the radiologist, the two composite-key rows and the shift were four."""
    reader = core_table(Radiologist)
    credentials = core_table(RadiologistSubspecialty)
    privileges = core_table(SitePrivilege)
    shifts = core_table(Shift)
    credentialed = (
        sa.exists()
        .where(
            credentials.c.radiologist_id == reader.c.id,
            credentials.c.subspecialty == sa.bindparam("subspecialty"),
        )
        .label("credentialed")
    )
    shift_ends_at = (
        sa.select(sa.func.max(shifts.c.ends_at))
        .where(
            shifts.c.radiologist_id == reader.c.id,
            shifts.c.ended_at.is_(None),
            shifts.c.starts_at <= sa.bindparam("now", type_=shifts.c.starts_at.type),
        )
        .scalar_subquery()
        .label("shift_ends_at")
    )
    privilege = sa.and_(
        privileges.c.radiologist_id == reader.c.id,
        privileges.c.site_id == sa.bindparam("site_id"),
    )
    return (
        sa.select(
            *columns_of(Radiologist),
            credentialed,
            privileges.c.radiologist_id.is_not(None).label("privileged"),
            privileges.c.expires_on,
            shift_ends_at,
        )
        .select_from(reader.outerjoin(privileges, privilege))
        .where(reader.c.code == sa.bindparam("code"))
    )


_READER_STANDING = _reader_standing()
_RADIOLOGIST_COLUMNS = len(columns_of(Radiologist))


class SqlDepartment:
    def __init__(self, session: Session, reference: ReferenceRows | None = None) -> None:
        self.session = session
        # The process's catalogue rows (domain/reference_rows.py); none: every lookup a read.
        self.reference = reference

    def get(self, model: type[M], key: Any) -> M | None:
        if self.reference is None or not is_catalogue(model):
            return _get(self.session, model, key)
        return self.reference.answer((model, key), lambda: _copy(_get(self.session, model, key)))

    def find(self, model: type[M], column: str, value: object) -> M | None:
        def read() -> M | None:
            return _first(
                _loaded(self.session, model, _by_natural_key(model, column), {"key": value})
            )

        if self.reference is None or not is_catalogue(model):
            return read()
        return self.reference.answer((model, column, value), lambda: _copy(read()))

    def left_out_last_run(self) -> frozenset[int]:
        last = self.session.scalars(
            sa.select(BalancerRun).order_by(col(BalancerRun.id).desc()).limit(1)
        ).first()
        return frozenset(int(u["exam_id"]) for u in (last.unassignable if last else ()))

    def body_region(self, modality: Modality, region: str) -> str | None:
        query = sa.select(col(Procedure.body_part)).where(
            col(Procedure.modality) == modality,
            col(Procedure.active),
            sa.func.upper(col(Procedure.body_part)) == region.strip().upper(),
        )
        return self.session.scalars(query.limit(1)).first()

    def turnaround_minutes(
        self, procedure_id: int, priority: Priority, patient_class: PatientClass
    ) -> int | None:
        parameters = {
            "procedure_id": procedure_id,
            "priority": priority,
            "patient_class": patient_class,
        }

        def read() -> int | None:
            minutes: int | None = self.session.scalars(_TURNAROUND, parameters).first()
            return minutes

        if self.reference is None:
            return read()
        return self.reference.answer(
            (TurnaroundTarget, procedure_id, priority, patient_class), read
        )

    def opening_hours(self, resource_id: int) -> list[OpeningHours]:
        def read() -> list[OpeningHours]:
            return list(self.session.scalars(_OPENING_HOURS, {"resource_id": resource_id}))

        if self.reference is None:
            return read()
        kept = self.reference.answer(
            (OpeningHours, resource_id), lambda: tuple(detached_copy(h) for h in read())
        )
        return list(kept)

    def reader_standing(
        self, code: str, *, subspecialty: Subspecialty, site_id: int, now: datetime
    ) -> ReaderStanding | None:
        session = self.session
        _autoflush(session)  # a shift the command started counts
        parameters = {"code": code, "subspecialty": subspecialty, "site_id": site_id, "now": now}
        row = _execute(session, _READER_STANDING, parameters).first()
        if row is None:
            return None
        radiologist = as_loaded(session, Radiologist, row[:_RADIOLOGIST_COLUMNS])
        credentialed, privileged, expires_on, shift_ends_at = row[_RADIOLOGIST_COLUMNS:]
        return ReaderStanding(
            radiologist=radiologist,
            credentialed=bool(credentialed),
            privileged=bool(privileged),
            privilege_expires_on=expires_on,
            shift_ends_at=shift_ends_at,
        )


_CHECKLIST = sa.select(ExamPrepItem).where(col(ExamPrepItem.exam_id) == _exam_id())
_OPEN_PREP_ITEMS = (
    sa.select(sa.func.count())
    .select_from(ExamPrepItem)
    .where(col(ExamPrepItem.exam_id) == _exam_id(), col(ExamPrepItem.completed_at).is_(None))
)
_PROTOCOL_ITEMS = core_table(PrepProtocolItem).c
# One INSERT ... SELECT: the checklist is copied inside the database.
_COPY_CHECKLIST = sa.insert(core_table(ExamPrepItem)).from_select(
    ["exam_id", "position", "code", "description"],
    sa.select(
        _exam_id(),
        _PROTOCOL_ITEMS.position,
        _PROTOCOL_ITEMS.code,
        _PROTOCOL_ITEMS.description,
    )
    .where(_PROTOCOL_ITEMS.protocol_id == sa.bindparam("protocol_id"))
    .order_by(_PROTOCOL_ITEMS.position),
)


def _item_and_others_open() -> sa.Select[Any]:
    items = core_table(ExamPrepItem)
    others = items.alias("others")
    others_open = (
        sa.select(sa.func.count())
        .select_from(others)
        .where(
            others.c.exam_id == items.c.exam_id,
            others.c.completed_at.is_(None),
            others.c.id != items.c.id,
        )
        .scalar_subquery()
    )
    return (
        sa.select(*columns_of(ExamPrepItem), others_open.label("others_open"))
        .where(items.c.exam_id == _exam_id(), items.c.code == sa.bindparam("code"))
        .order_by(items.c.id)
        .limit(1)
    )


_ITEM_AND_OTHERS_OPEN = _item_and_others_open()


class SqlPrepChecklists:
    def __init__(self, session: Session) -> None:
        self.session = session

    def items(self, exam_id: int) -> list[ExamPrepItem]:
        return _loaded(self.session, ExamPrepItem, _CHECKLIST, {"exam_id": exam_id})

    def open_count(self, exam_id: int) -> int:
        return int(self.session.scalar(_OPEN_PREP_ITEMS, {"exam_id": exam_id}) or 0)

    def item_and_others_open(self, exam_id: int, code: str) -> tuple[ExamPrepItem, int] | None:
        session = self.session
        _autoflush(session)
        parameters = {"exam_id": exam_id, "code": code}
        row = _execute(session, _ITEM_AND_OTHERS_OPEN, parameters).first()
        if row is None:
            return None
        return as_loaded(session, ExamPrepItem, row[:-1]), int(row[-1])

    def copy_protocol(self, exam_id: int, protocol_id: int) -> None:
        self.session.execute(_COPY_CHECKLIST, {"exam_id": exam_id, "protocol_id": protocol_id})


_ATTEMPTS = (
    sa.select(Acquisition)
    .where(col(Acquisition.exam_id) == _exam_id())
    .order_by(col(Acquisition.attempt))
)
_LATEST_VALIDATION = (
    sa.select(MetadataValidation)
    .where(col(MetadataValidation.exam_id) == _exam_id())
    .order_by(col(MetadataValidation.id).desc())
    .limit(1)
)


def _storage_facts() -> sa.Select[Any]:
    stored = core_table(StoredStudy)
    validations, attempts = core_table(MetadataValidation), core_table(Acquisition)
    uid_taken = sa.exists().where(stored.c.study_instance_uid == sa.bindparam("uid"))
    latest = (
        sa.select(validations.c.valid, validations.c.attempt)
        .where(validations.c.exam_id == _exam_id())
        .order_by(validations.c.id.desc())
        .limit(1)
        .subquery("latest_validation")
    )
    last = (
        sa.select(attempts.c.attempt, attempts.c.series_count, attempts.c.image_count)
        .where(attempts.c.exam_id == _exam_id())
        .order_by(attempts.c.attempt.desc())
        .limit(1)
        .subquery("last_attempt")
    )
    one = sa.select(sa.literal(1).label("one")).subquery("asked")
    # Valid only when the latest check was of the last attempt's study (a repeat's new study
    # needs its own).
    valid = sa.and_(latest.c.valid, latest.c.attempt == last.c.attempt)
    return sa.select(
        uid_taken.label("uid_taken"),
        sa.func.coalesce(valid, sa.false()).label("metadata_valid"),
        last.c.series_count,
        last.c.image_count,
    ).select_from(one.outerjoin(last, sa.true()).outerjoin(latest, sa.true()))


_STORAGE_FACTS = _storage_facts()
_BEFORE_START = sa.select(
    sa.select(sa.func.count())
    .select_from(core_table(Acquisition))
    .where(core_table(Acquisition).c.exam_id == _exam_id())
    .scalar_subquery(),
    _OPEN_PREP_ITEMS.scalar_subquery(),
)


class SqlAcquisitions:
    def __init__(self, session: Session) -> None:
        self.session = session

    def attempts(self, exam_id: int) -> list[Acquisition]:
        return _loaded(self.session, Acquisition, _ATTEMPTS, {"exam_id": exam_id})

    def latest_validation(self, exam_id: int) -> MetadataValidation | None:
        found = _loaded(self.session, MetadataValidation, _LATEST_VALIDATION, {"exam_id": exam_id})
        return found[0] if found else None

    def before_start(self, exam_id: int) -> AcquisitionStart:
        _autoflush(self.session)
        parameters = {"exam_id": exam_id}
        attempts, open_items = _execute(self.session, _BEFORE_START, parameters).one()
        return AcquisitionStart(attempts=int(attempts), open_prep_items=int(open_items))

    def storage_facts(self, exam_id: int, uid: str) -> StorageFacts:
        _autoflush(self.session)
        parameters = {"exam_id": exam_id, "uid": uid}
        taken, valid, series, images = _execute(self.session, _STORAGE_FACTS, parameters).one()
        return StorageFacts(
            uid_taken=bool(taken),
            metadata_valid=bool(valid),
            series_count=series,
            image_count=images,
        )


_LIVE_APPOINTMENT = (
    sa.select(Appointment)
    .where(
        col(Appointment.exam_id) == _exam_id(),
        col(Appointment.status).in_(
            [AppointmentStatus.BOOKED, AppointmentStatus.CONFIRMED, AppointmentStatus.ARRIVED]
        ),
    )
    .order_by(col(Appointment.id).desc())
    .limit(1)
)
_INSERT_CLAIMS = sa.insert(core_table(SlotClaim))
_FREE_CLAIMS = sa.delete(SlotClaim).where(
    col(SlotClaim.appointment_id) == sa.bindparam("appointment_id")
)


class SqlAppointments:
    def __init__(self, session: Session) -> None:
        self.session = session

    def live(self, exam_id: int) -> Appointment | None:
        found = _loaded(self.session, Appointment, _LIVE_APPOINTMENT, {"exam_id": exam_id})
        return found[0] if found else None

    def claim_slots(
        self, resource_id: int, starts: Sequence[datetime], appointment_id: int
    ) -> bool:
        rows = [
            {"resource_id": resource_id, "slot_start": s, "appointment_id": appointment_id}
            for s in starts
        ]
        # No savepoint: a taken slot ends the command (SlotTaken), whose transaction is then
        # rolled back whole, so nothing needs to survive the failed INSERT.
        try:
            self.session.execute(_INSERT_CLAIMS, rows)
        except IntegrityError:
            return False
        return True

    def free_slots(self, appointment_id: int) -> None:
        self.session.execute(_FREE_CLAIMS, {"appointment_id": appointment_id})

    def unattended(self, ended_before: datetime, limit: int) -> list[Appointment]:
        query = (
            sa.select(Appointment)
            .where(
                col(Appointment.status).in_(
                    [AppointmentStatus.BOOKED, AppointmentStatus.CONFIRMED]
                ),
                col(Appointment.ends_at) < ended_before,
            )
            .order_by(col(Appointment.ends_at), col(Appointment.id))
            .limit(limit)
        )
        return list(self.session.scalars(query))


class SqlNotifications:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, notification_id: int) -> Notification | None:
        return self.session.get(Notification, notification_id)

    def queued_for(
        self, exam_id: int, templates: Collection[NotificationTemplate]
    ) -> list[Notification]:
        query = sa.select(Notification).where(
            col(Notification.exam_id) == exam_id,
            col(Notification.status) == NotificationStatus.QUEUED,
            col(Notification.template).in_(sorted(templates)),
        )
        return list(self.session.scalars(query))

    def due(
        self, now: datetime, limit: int, channels: Collection[NotificationChannel]
    ) -> list[Notification]:
        query = (
            sa.select(Notification)
            .where(
                col(Notification.status) == NotificationStatus.QUEUED,
                col(Notification.channel).in_(sorted(channels)),
                col(Notification.send_at) <= now,
                sa.or_(
                    col(Notification.next_attempt_at).is_(None),
                    col(Notification.next_attempt_at) <= now,
                ),
                sa.or_(
                    col(Notification.claimed_until).is_(None),
                    col(Notification.claimed_until) <= now,
                ),
            )
            .order_by(col(Notification.send_at), col(Notification.id))
            .limit(limit)
            # Two senders never claim the same row; neither waits for the other's rows.
            # (SQLite has no row locks: its writers are serialised by BEGIN IMMEDIATE.)
            .with_for_update(skip_locked=True)
        )
        return list(self.session.scalars(query))


_CURRENT_READ = sa.select(Read).where(col(Read.exam_id) == _exam_id(), col(Read.ended_at).is_(None))
# The read's columns, then its reader's (in `as_loaded`'s order for each).
_CURRENT_READ_AND_READER = (
    sa.select(*columns_of(Read), *columns_of(Radiologist))
    .join_from(
        core_table(Read), core_table(Radiologist), col(Radiologist.id) == col(Read.radiologist_id)
    )
    .where(col(Read.exam_id) == _exam_id(), col(Read.ended_at).is_(None))
)
_READ_COLUMNS = len(columns_of(Read))
_READER_COLUMNS = len(columns_of(Radiologist))
# ... and the exam's report (at most one: `reports.exam_id` is unique), if it has one.
_CURRENT_READ_WITH_REPORT = _CURRENT_READ_AND_READER.add_columns(*columns_of(Report)).outerjoin(
    core_table(Report), col(Report.exam_id) == col(Read.exam_id)
)


class SqlReads:
    def __init__(self, session: Session) -> None:
        self.session = session

    def current(self, exam_id: int) -> Read | None:
        return _first(_loaded(self.session, Read, _CURRENT_READ, {"exam_id": exam_id}))

    def current_with_reader(self, exam_id: int) -> tuple[Read, Radiologist] | None:
        session = self.session
        _autoflush(session)
        row = _execute(session, _CURRENT_READ_AND_READER, {"exam_id": exam_id}).first()
        if row is None:
            return None
        return (
            as_loaded(session, Read, row[:_READ_COLUMNS]),
            as_loaded(session, Radiologist, row[_READ_COLUMNS:]),
        )

    def current_with_report(self, exam_id: int) -> tuple[Read, Radiologist, Report | None] | None:
        session = self.session
        _autoflush(session)
        row = _execute(session, _CURRENT_READ_WITH_REPORT, {"exam_id": exam_id}).first()
        if row is None:
            return None
        reader_end = _READ_COLUMNS + _READER_COLUMNS
        report = row[reader_end:]
        return (
            as_loaded(session, Read, row[:_READ_COLUMNS]),
            as_loaded(session, Radiologist, row[_READ_COLUMNS:reader_end]),
            _loaded_or_none(session, Report, report),
        )

    def current_for(self, exam_ids: list[int]) -> dict[int, Read]:
        query = sa.select(Read).where(col(Read.exam_id).in_(exam_ids), col(Read.ended_at).is_(None))
        return {r.exam_id: r for r in self.session.scalars(query)}

    def opened_by(self, radiologist_id: int) -> list[int]:
        query = (
            sa.select(col(Read.exam_id))
            .join(Exam, col(Exam.id) == col(Read.exam_id))
            .where(
                col(Read.radiologist_id) == radiologist_id,
                col(Read.ended_at).is_(None),
                col(Read.opened_at).is_not(None),
                col(Exam.status) == ExamStatus.IN_INTERPRETATION,
            )
            .order_by(col(Read.exam_id))
        )
        return list(self.session.scalars(query))

    def opened_in_interpretation(self) -> list[tuple[Read, Priority, Radiologist]]:
        query = (
            sa.select(Read, col(Exam.priority), Radiologist)
            .join(Exam, col(Exam.id) == col(Read.exam_id))
            .join(Radiologist, col(Radiologist.id) == col(Read.radiologist_id))
            .where(
                col(Read.ended_at).is_(None),
                col(Read.opened_at).is_not(None),
                col(Exam.status) == ExamStatus.IN_INTERPRETATION,
            )
            .order_by(col(Read.opened_at))
        )
        return [(r, p, reader) for r, p, reader in self.session.execute(query)]

    def end_many(self, reads: Sequence[Read], at: datetime, unassignable: set[int]) -> None:
        self.session.execute(
            sa.update(Read)
            .where(col(Read.id).in_([r.id for r in reads]))
            .values(
                ended_at=at,
                end_reason=sa.case(
                    (col(Read.exam_id).in_(sorted(unassignable)), "UNASSIGNABLE"),
                    else_="REASSIGNED",
                ),
            ),
            execution_options={"synchronize_session": False},
        )
        for read in reads:  # keep the loaded objects truthful for the rest of the command
            self.session.expire(read)

    def start_many(self, rows: Sequence[Mapping[str, Any]]) -> None:
        self.session.execute(sa.insert(Read), list(rows))

    def last_endings(self, exam_ids: list[int]) -> dict[int, tuple[str | None, str | None]]:
        last: dict[int, tuple[str | None, str | None]] = {}
        for exam_id, ending, note in self.session.execute(
            sa.select(col(Read.exam_id), col(Read.end_reason), col(Read.end_note))
            .where(col(Read.exam_id).in_(exam_ids))
            .order_by(col(Read.id))
        ):
            last[exam_id] = (ending, note)
        return last

    def record_pace(
        self, *, radiologist_id: int, procedure_group: str, log_ratio: float, at: datetime
    ) -> None:
        # One statement that adds to the row or creates it: two signings by one reader in
        # parallel both count (the row lock orders them), with no read-modify-write. On the
        # session's connection: it touches nothing the command has pending, so no autoflush.
        connection = self.session.connection()
        row = {
            "radiologist_id": radiologist_id,
            "procedure_group": procedure_group,
            "reads": 1,
            "log_sum": log_ratio,
            "log_square_sum": log_ratio * log_ratio,
            "updated_at": at,
        }
        _PACE_UPSERT[connection.dialect.name == "postgresql"].execute(connection, [row])


def _pace_upsert(insert: Any) -> PreparedStatement:
    """INSERT a reader's pace row, or add the new one's count and sums to the row there: the
    row inserted is the increment (one read, its log ratio and square), so the conflict adds
    `excluded`'s values."""
    table = core_table(ReadingPace)
    statement = insert(table)
    added = statement.excluded
    upsert = statement.on_conflict_do_update(
        index_elements=[table.c.radiologist_id, table.c.procedure_group],
        set_={
            "reads": table.c.reads + added.reads,
            "log_sum": table.c.log_sum + added.log_sum,
            "log_square_sum": table.c.log_square_sum + added.log_square_sum,
            "updated_at": added.updated_at,
        },
    )
    names = ["radiologist_id", "procedure_group", "reads", "log_sum", "log_square_sum"]
    return PreparedStatement(upsert, [*names, "updated_at"])


# Compiled once per dialect (domain/prepared.py); by whether the dialect is PostgreSQL's.
_PACE_UPSERT = {False: _pace_upsert(sqlite.insert), True: _pace_upsert(postgresql.insert)}


REPORT_OF_EXAM = sa.select(Report).where(col(Report.exam_id) == _exam_id())
_LATEST_COMMUNICATION = (
    sa.select(ResultCommunication)
    .where(col(ResultCommunication.exam_id) == _exam_id())
    .order_by(col(ResultCommunication.id).desc())
    .limit(1)
)
_UNACKNOWLEDGED_CRITICAL = (
    sa.select(sa.func.count())
    .select_from(ResultCommunication)
    .where(
        col(ResultCommunication.exam_id) == _exam_id(),
        col(ResultCommunication.critical_level).in_(sorted(MUST_ACKNOWLEDGE)),
        col(ResultCommunication.acknowledged_at).is_(None),
    )
)
_SURVEY_UNIQUE = next(
    c
    for c in core_table(SatisfactionSurvey).constraints
    if isinstance(c, sa.UniqueConstraint) and c.name == "uq_survey_respondent"
)
_SURVEY_TAKEN = sa.select(col(SatisfactionSurvey.id)).where(
    col(SatisfactionSurvey.exam_id) == _exam_id(),
    col(SatisfactionSurvey.respondent) == sa.bindparam("respondent"),
)


def _with_recipients() -> sa.Select[Any]:
    exams, reports = core_table(Exam), core_table(Report)
    referrers, patients = core_table(Referrer), core_table(Patient)
    return (
        sa.select(*columns_of(Report), *columns_of(Referrer), *columns_of(Patient))
        .select_from(exams)
        .join(referrers, referrers.c.id == exams.c.referrer_id)
        .join(patients, patients.c.id == exams.c.patient_id)
        .outerjoin(reports, reports.c.exam_id == exams.c.id)
        .where(exams.c.id == _exam_id())
    )


# The exam's report (its columns null when it has none), referrer and patient, in one row.
_WITH_RECIPIENTS = _with_recipients()
_REPORT_COLUMNS = len(columns_of(Report))
_REFERRER_END = _REPORT_COLUMNS + len(columns_of(Referrer))


def _latest_communication_and_recipients() -> sa.Select[Any]:
    communications, referrers = core_table(ResultCommunication), core_table(Referrer)
    ordering, escalated, received = (referrers.alias(n) for n in ("ordering", "esc", "rcv"))
    reached = (
        communications.join(ordering, ordering.c.id == communications.c.referrer_id)
        .outerjoin(
            escalated,
            sa.and_(
                communications.c.escalated_to_kind == "referrer",
                escalated.c.id == communications.c.escalated_to_id,
            ),
        )
        .outerjoin(
            received,
            sa.and_(
                communications.c.received_by_kind == "referrer",
                received.c.id == communications.c.received_by_id,
            ),
        )
    )
    return (
        sa.select(
            *columns_of(ResultCommunication), ordering.c.code, escalated.c.code, received.c.code
        )
        .select_from(reached)
        .where(communications.c.exam_id == _exam_id())
        .order_by(communications.c.id.desc())
        .limit(1)
    )


# The latest communication's columns, then the codes of the referrers it went to (or null).
_LATEST_COMMUNICATION_AND_RECIPIENTS = _latest_communication_and_recipients()


class SqlReports:
    def __init__(self, session: Session) -> None:
        self.session = session

    def of_exam(self, exam_id: int) -> Report | None:
        found = _loaded(self.session, Report, REPORT_OF_EXAM, {"exam_id": exam_id})
        return found[0] if found else None

    def latest_communication_and_recipients(
        self, exam_id: int
    ) -> tuple[ResultCommunication, frozenset[str]] | None:
        session = self.session
        _autoflush(session)
        statement = _LATEST_COMMUNICATION_AND_RECIPIENTS
        row = _execute(session, statement, {"exam_id": exam_id}).first()
        if row is None:
            return None
        communication = as_loaded(session, ResultCommunication, row[:-3])
        return communication, frozenset(code for code in row[-3:] if code is not None)

    def with_recipients(self, exam_id: int) -> tuple[Report | None, Referrer, Patient]:
        session = self.session
        _autoflush(session)
        row = _execute(session, _WITH_RECIPIENTS, {"exam_id": exam_id}).one()
        report = row[:_REPORT_COLUMNS]
        return (
            _loaded_or_none(session, Report, report),
            as_loaded(session, Referrer, row[_REPORT_COLUMNS:_REFERRER_END]),
            as_loaded(session, Patient, row[_REFERRER_END:]),
        )

    def latest_communication(self, exam_id: int) -> ResultCommunication | None:
        parameters = {"exam_id": exam_id}
        found = _loaded(self.session, ResultCommunication, _LATEST_COMMUNICATION, parameters)
        return found[0] if found else None

    def communication(self, communication_id: int) -> ResultCommunication | None:
        return self.session.get(ResultCommunication, communication_id)

    def unacknowledged_critical(self, exam_id: int) -> int:
        return int(self.session.scalar(_UNACKNOWLEDGED_CRITICAL, {"exam_id": exam_id}) or 0)

    def overdue_communications(self, now: datetime) -> list[ResultCommunication]:
        query = sa.select(ResultCommunication).where(
            col(ResultCommunication.acknowledged_at).is_(None),
            # Every result sent with a window (critical: minutes, urgent: hours, unexpected
            # significant: days) escalates once its window passes unacknowledged.
            col(ResultCommunication.acknowledge_by) <= now,
        )
        # Locked as read (PostgreSQL; SQLite serialises writers): a second run of the sweep,
        # on another replica whose claim took over a slow one's, skips these rows instead of
        # escalating them a second time.
        return list(self.session.scalars(query.with_for_update(skip_locked=True)))

    def critical_not_communicated(self, limit: int) -> list[tuple[Report, Exam]]:
        query = (
            sa.select(Report, Exam)
            .join(Exam, col(Exam.id) == col(Report.exam_id))
            .where(
                col(Exam.status) == ExamStatus.FINAL,
                col(Report.critical_level).in_(sorted(MUST_ACKNOWLEDGE)),
            )
            .order_by(col(Report.final_at), col(Report.id))
            .limit(limit)
            .with_for_update(of=Report, skip_locked=True)
        )
        return [(report, exam) for report, exam in self.session.execute(query)]

    def follow_up(self, follow_up_id: int) -> FollowUpRecommendation | None:
        return self.session.get(FollowUpRecommendation, follow_up_id)

    def follow_ups_fallen_due(self, on: date, limit: int) -> list[FollowUpRecommendation]:
        query = (
            sa.select(FollowUpRecommendation)
            .where(
                col(FollowUpRecommendation.status) == FollowUpStatus.OPEN,
                col(FollowUpRecommendation.due_on) <= on,
                col(FollowUpRecommendation.due_notified_at).is_(None),
            )
            .order_by(col(FollowUpRecommendation.due_on), col(FollowUpRecommendation.id))
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return list(self.session.scalars(query))

    def follow_up_candidates(self, limit: int) -> list[tuple[FollowUpRecommendation, Exam]]:
        follow_up = FollowUpRecommendation
        origin, candidate = aliased(Exam), aliased(Exam)
        query = (
            sa.select(follow_up, candidate)
            .join(origin, col(origin.id) == col(follow_up.exam_id))
            .join(
                candidate,
                sa.and_(
                    col(candidate.patient_id) == col(origin.patient_id),
                    col(candidate.id) != col(origin.id),
                    # ordered since the recommendation, or ordered before it and performed
                    # since (its study ready after it)
                    sa.or_(
                        col(candidate.ordered_at) >= col(follow_up.created_at),
                        col(candidate.ready_at) >= col(follow_up.created_at),
                    ),
                    col(candidate.status).not_in(UNFULFILLING),
                ),
            )
            .join(
                Procedure,
                sa.and_(
                    col(Procedure.id) == col(candidate.procedure_id),
                    col(Procedure.modality) == col(follow_up.modality),
                    sa.func.upper(col(Procedure.body_part))
                    == sa.func.upper(col(follow_up.body_region)),
                ),
            )
            .where(
                col(follow_up.status) == FollowUpStatus.OPEN,
                col(follow_up.completed_exam_id).is_(None),
            )
            .order_by(col(follow_up.id), col(candidate.ordered_at), col(candidate.id))
            .limit(limit)
        )
        return [(row, exam) for row, exam in self.session.execute(query)]

    def follow_ups_overdue(self, on: date, limit: int) -> list[FollowUpRecommendation]:
        query = (
            sa.select(FollowUpRecommendation)
            .where(
                col(FollowUpRecommendation.status) == FollowUpStatus.OPEN,
                col(FollowUpRecommendation.due_on) < on,
                col(FollowUpRecommendation.completed_exam_id).is_(None),
            )
            .order_by(col(FollowUpRecommendation.due_on), col(FollowUpRecommendation.id))
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return list(self.session.scalars(query))

    def linked_follow_ups(self, limit: int) -> list[tuple[FollowUpRecommendation, Exam]]:
        query = (
            sa.select(FollowUpRecommendation, Exam)
            .join(Exam, col(Exam.id) == col(FollowUpRecommendation.completed_exam_id))
            .where(col(FollowUpRecommendation.status) == FollowUpStatus.OPEN)
            .order_by(col(FollowUpRecommendation.id))
            .limit(limit)
        )
        return [(row, exam) for row, exam in self.session.execute(query)]

    def survey_taken(self, exam_id: int, respondent: Respondent) -> bool:
        parameters = {"exam_id": exam_id, "respondent": respondent}
        return _any_row(self.session, _SURVEY_TAKEN, parameters)

    def add_survey(self, survey: SatisfactionSurvey) -> bool:
        # Two answers at once (a link opened twice): the unique constraint decides, and the
        # savepoint keeps the loser's transaction usable for its typed answer.
        if self.session.get_bind().dialect.name == "sqlite":
            # No savepoint needed: SQLite undoes a failed statement alone and the transaction
            # goes on (and it took the write lock as it began, so no answer can have come in
            # since `survey_taken` looked). Written by one Core INSERT: the event needs its id.
            self.session.add(survey)
            try:
                write_new_row(self.session, survey)
            except IntegrityError as exc:
                self.session.expunge(survey)
                if not is_unique_violation(exc, _SURVEY_UNIQUE):
                    raise
                return False
            return True
        try:
            with self.session.begin_nested():
                self.session.add(survey)
                self.session.flush()
        except IntegrityError as exc:
            if not is_unique_violation(exc, _SURVEY_UNIQUE):
                raise
            return False
        return True


_IN_PROGRESS = sa.select(Shift).where(
    col(Shift.radiologist_id).in_(sa.bindparam("radiologist_ids", expanding=True)),
    col(Shift.ended_at).is_(None),
    col(Shift.starts_at) <= sa.bindparam("now", type_=core_table(Shift).c.starts_at.type),
)


class SqlShifts:
    def __init__(self, session: Session) -> None:
        self.session = session

    def in_progress(self, radiologist_ids: list[int], now: datetime) -> dict[int, Shift]:
        parameters = {"radiologist_ids": radiologist_ids, "now": now}
        return {s.radiologist_id: s for s in _loaded(self.session, Shift, _IN_PROGRESS, parameters)}

    def last_ended(self, radiologist_ids: list[int]) -> dict[int, datetime | None]:
        query = (
            sa.select(col(Shift.radiologist_id), sa.func.max(col(Shift.ended_at)))
            .where(col(Shift.radiologist_id).in_(radiologist_ids), col(Shift.ended_at).is_not(None))
            .group_by(col(Shift.radiologist_id))
        )
        return {int(rid): ended for rid, ended in self.session.execute(query)}


_ACTIVE = sa.select(RuleSetActivation).order_by(col(RuleSetActivation.id).desc()).limit(1)


class SqlRuleSets:
    def __init__(self, session: Session) -> None:
        self.session = session

    def version(self, version: int) -> RuleSetVersion | None:
        return self.session.get(RuleSetVersion, version)

    def active(self) -> RuleSetActivation | None:
        return self.session.scalars(_ACTIVE).first()


def is_unique_violation(exc: IntegrityError, constraint: sa.UniqueConstraint | sa.Index) -> bool:
    """Whether an IntegrityError was raised by this unique constraint, on either backend."""
    text = str(exc.orig)
    if constraint.name and str(constraint.name) in text:  # PostgreSQL names the constraint
        return True
    table = constraint.table
    if table is None:
        return False
    columns = ", ".join(f"{table.name}.{c.name}" for c in constraint.columns)
    return f"UNIQUE constraint failed: {columns}" in text  # SQLite names the columns
