"""Projections: answer a list query straight from the columns its selection needs.

For a page of exams, the standard path builds an object per row and relation and lets the
executor walk them field by field. When every field a query selects under `edges.node` maps to a
column (or a few columns) of the exam or of a joined row, we instead select exactly those
columns in one statement and build the response from the rows, already serialized: the
executor passes a `Prebuilt` value through untouched. Anything else (a resolver field, an
argument, a directive, an abstract type) makes the projection decline, and the standard path
answers. Both paths give the same JSON; a test checks that for every mapped field.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from operator import itemgetter
from typing import Any

import sqlalchemy as sa
from strawberry.types.nodes import FragmentSpread, InlineFragment, SelectedField, Selection

from api.relay import to_global_id
from domain.queries import (
    EXAMS,
    PATIENTS,
    PROCEDURES,
    REFERRERS,
    REPORTS,
    SITES,
    paged,
    where_matching,
)


@dataclass(frozen=True)
class Prebuilt:
    """A value already completed for its selection; the executor passes it through."""

    data: Any


def _time(value: datetime | date | None) -> str | None:
    return None if value is None else value.isoformat()


def _plain(value: Any) -> Any:
    return getattr(value, "value", value)  # enum members as their names (= values here)


@dataclass(frozen=True)
class Column:
    """A field read from one column, serialized (None: the value is already JSON-ready)."""

    column: sa.Column[Any]
    serialize: Callable[[Any], Any] | None = None


@dataclass(frozen=True)
class GlobalId:
    """A Node's `id`: the global id of the row's primary key."""

    type_name: str
    column: sa.Column[Any]


@dataclass(frozen=True)
class Nested:
    """A small object type whose fields are columns of the same row."""

    fields: dict[str, Column]


@dataclass(frozen=True)
class Relation:
    """A related row joined in the same statement (outer: it may be missing)."""

    table: sa.Table
    on: Callable[[sa.Table], Any]
    fields: dict[str, Any]
    outer: bool = False


def _columns(table: sa.Table, names: dict[str, str], times: Iterable[str] = ()
             ) -> dict[str, Column]:
    timed = set(times)

    def serializer(column: sa.Column[Any]) -> Callable[[Any], Any] | None:
        if column.name in timed:
            return _time
        return _plain if isinstance(column.type, sa.Enum) else None

    return {gql: Column(table.c[col], serializer(table.c[col])) for gql, col in names.items()}


PATIENT = {"id": GlobalId("Patient", PATIENTS.c.id), **_columns(PATIENTS, {
    "mrn": "mrn", "givenName": "given_name", "familyName": "family_name",
    "birthDate": "birth_date", "sex": "sex", "phone": "phone", "email": "email"},
    times=["birth_date"])}
PROCEDURE = {"id": GlobalId("Procedure", PROCEDURES.c.id), **_columns(PROCEDURES, {
    "code": "code", "name": "name", "modality": "modality", "bodyPart": "body_part",
    "subspecialty": "subspecialty", "wrvu": "wrvu", "readMinutes": "read_minutes",
    "scanMinutes": "scan_minutes"})}
SITE = {"id": GlobalId("Site", SITES.c.id), **_columns(SITES, {
    "code": "code", "name": "name", "timezone": "timezone"})}
REFERRER = {"id": GlobalId("Referrer", REFERRERS.c.id), **_columns(REFERRERS, {
    "code": "code", "name": "name", "email": "email", "phone": "phone"})}
REPORT = _columns(REPORTS, {
    "status": "status", "impression": "impression", "criticalLevel": "critical_level",
    "createdAt": "created_at", "updatedAt": "updated_at", "preliminaryAt": "preliminary_at",
    "finalAt": "final_at"}, times=["created_at", "updated_at", "preliminary_at", "final_at"])
EXAM: dict[str, Any] = {
    "id": GlobalId("Exam", EXAMS.c.id),
    **_columns(EXAMS, {
        "accessionNumber": "accession_number", "status": "status", "priority": "priority",
        "patientClass": "patient_class", "orderSource": "order_source",
        "placerOrderNumber": "placer_order_number", "orderedAt": "ordered_at",
        "statusChangedAt": "status_changed_at", "readyAt": "ready_at", "dueAt": "due_at",
        "version": "version"},
        times=["ordered_at", "status_changed_at", "ready_at", "due_at"]),
    "indication": Nested(_columns(EXAMS, {"text": "indication", "icd10Code": "icd10_code"})),
    "patient": Relation(PATIENTS, lambda t: t.c.id == EXAMS.c.patient_id, PATIENT),
    "procedure": Relation(PROCEDURES, lambda t: t.c.id == EXAMS.c.procedure_id, PROCEDURE),
    "site": Relation(SITES, lambda t: t.c.id == EXAMS.c.site_id, SITE),
    "referrer": Relation(REFERRERS, lambda t: t.c.id == EXAMS.c.referrer_id, REFERRER),
    "report": Relation(REPORTS, lambda t: t.c.exam_id == EXAMS.c.id, REPORT, outer=True),
}
TYPE_NAMES = {id(EXAM): "Exam", id(PATIENT): "Patient", id(PROCEDURE): "Procedure",
              id(SITE): "Site", id(REFERRER): "Referrer", id(REPORT): "Report"}


class Decline(Exception):
    """The selection needs something a projection cannot give."""


def flatten(selections: Iterable[Selection], type_name: str) -> list[SelectedField]:
    """The fields of a selection set on `type_name`, fragments merged (directives decline)."""
    merged: dict[str, SelectedField] = {}
    for selection in selections:
        if selection.directives:
            raise Decline("directive")
        if isinstance(selection, (InlineFragment, FragmentSpread)):
            if selection.type_condition not in (None, type_name):
                raise Decline("type condition")
            parts = flatten(selection.selections, type_name)
        else:
            parts = [selection]
        for part in parts:
            key = part.alias or part.name
            if key in merged:
                if merged[key].name != part.name:
                    raise Decline("conflicting alias")
                merged[key] = SelectedField(name=part.name, directives={}, arguments={},
                                            alias=part.alias, selections=[
                                                *merged[key].selections, *part.selections])
            else:
                merged[key] = part
    return list(merged.values())


@dataclass
class Plan:
    """Columns to select (with their positions) and how to build each object from a row."""

    columns: list[Any] = field(default_factory=list)
    joins: list[Relation] = field(default_factory=list)

    def position(self, column: Any) -> int:
        self.columns.append(column)
        return len(self.columns) - 1


Build = Callable[[tuple[Any, ...]], Any]


def _constant(value: Any) -> Build:
    def get(_row: tuple[Any, ...]) -> Any:
        return value

    return get


def compile_object(plan: Plan, fields: dict[str, Any], selections: list[Selection],
                   type_name: str) -> Build:
    """A builder of one object's response dict from a row, selecting what it reads."""
    keys: list[str] = []
    getters: list[Build] = []
    for selected in flatten(selections, type_name):
        key = selected.alias or selected.name
        if selected.arguments:
            raise Decline("arguments")
        keys.append(key)
        if selected.name == "__typename":
            getters.append(_constant(type_name))
            continue
        spec = fields.get(selected.name)
        if spec is None:
            raise Decline(selected.name)
        getters.append(_compile_field(plan, spec, selected))
    names = tuple(keys)

    def build(row: tuple[Any, ...]) -> dict[str, Any]:
        return dict(zip(names, [get(row) for get in getters], strict=True))

    return build


def _compile_field(plan: Plan, spec: Any, selected: SelectedField) -> Build:
    if isinstance(spec, Column):
        if selected.selections:
            raise Decline("selection on a leaf")
        at, serialize = plan.position(spec.column), spec.serialize
        if serialize is None:
            return itemgetter(at)
        return lambda row: serialize(row[at])
    if isinstance(spec, GlobalId):
        at, name = plan.position(spec.column), spec.type_name
        return lambda row: to_global_id(name, row[at])
    if isinstance(spec, Nested):
        return compile_object(plan, dict(spec.fields), selected.selections, "Indication")
    if isinstance(spec, Relation):
        if spec not in plan.joins:
            plan.joins.append(spec)
        key = plan.position(spec.table.c.id)
        inner = compile_object(plan, spec.fields, selected.selections,
                               TYPE_NAMES[id(spec.fields)])
        return lambda row: None if row[key] is None else inner(row)
    raise Decline(type(spec).__name__)


def encode_cursor(ordered_at: datetime, exam_id: int) -> str:
    """The keyset cursor of an exam (as the standard path encodes it)."""
    return base64.urlsafe_b64encode(f"{ordered_at.isoformat()}|{exam_id}".encode()).decode()


@dataclass(frozen=True)
class PageProjection:
    """A compiled exam page: its statement and how to turn its rows into the response."""

    statement: sa.Select[Any]
    build: Callable[[list[tuple[Any, ...]], int, bool, Callable[[], int] | None], Any]
    wants_count: bool
    exam_id_at: int  # where each row holds its exam's id (the audit trail notes them)


def compile_exam_page(connection: SelectedField, shape: tuple[Any, ...], keyset: bool,
                      descending: bool) -> PageProjection:
    """Compile an `exams` selection (or Decline) into one statement and a response builder."""
    plan = Plan()
    at_ordered, at_id = plan.position(EXAMS.c.ordered_at), plan.position(EXAMS.c.id)
    edge_parts: list[tuple[str, str, Build | None]] = []  # key, what, node builder
    page_parts: list[tuple[str, str]] = []
    for part in flatten(connection.selections, "ExamConnection"):
        key = part.alias or part.name
        if part.name == "edges":
            for edge in flatten(part.selections, "ExamEdge"):
                edge_key = edge.alias or edge.name
                if edge.name == "node":
                    edge_parts.append((edge_key, "node",
                                       compile_object(plan, EXAM, edge.selections, "Exam")))
                elif edge.name in ("cursor", "__typename"):
                    edge_parts.append((edge_key, edge.name, None))
                else:
                    raise Decline(edge.name)
            page_parts.append((key, "edges"))
        elif part.name == "pageInfo":
            for info in flatten(part.selections, "PageInfo"):
                if info.name not in ("hasNextPage", "hasPreviousPage", "startCursor",
                                     "endCursor", "__typename"):
                    raise Decline(info.name)
            page_parts.append((key, "pageInfo"))
            page_info_fields = [(i.alias or i.name, i.name)
                                for i in flatten(part.selections, "PageInfo")]
        elif part.name in ("totalCount", "__typename"):
            page_parts.append((key, part.name))
        else:
            raise Decline(part.name)
    query = sa.select(*plan.columns).select_from(EXAMS)
    for relation in plan.joins:
        on = relation.on(relation.table)
        query = query.outerjoin(relation.table, on) if relation.outer else query.join(
            relation.table, on)
    statement = paged(where_matching(query, shape), keyset=keyset, descending=descending)

    wants_cursors = any(what == "pageInfo" for _, what in page_parts) or any(
        what == "cursor" for _, what, _ in edge_parts)

    def build(rows: list[tuple[Any, ...]], first: int, has_previous: bool,
              count: Callable[[], int] | None) -> dict[str, Any]:
        page = rows[:first]
        cursors = ([encode_cursor(row[at_ordered], row[at_id]) for row in page]
                   if wants_cursors else [None] * len(page))
        out: dict[str, Any] = {}
        for key, what in page_parts:
            if what == "edges":
                out[key] = [{k: (cursor if w == "cursor" else "ExamEdge" if w == "__typename"
                                 else node(row))  # type: ignore[misc]
                             for k, w, node in edge_parts}
                            for row, cursor in zip(page, cursors, strict=True)]
            elif what == "pageInfo":
                values = {"hasNextPage": len(rows) > first, "hasPreviousPage": has_previous,
                          "startCursor": cursors[0] if cursors else None,
                          "endCursor": cursors[-1] if cursors else None,
                          "__typename": "PageInfo"}
                out[key] = {k: values[name] for k, name in page_info_fields}
            elif what == "totalCount":
                out[key] = count() if count else None
            else:
                out[key] = "ExamConnection"
        return out

    return PageProjection(statement, build,
                          wants_count=any(what == "totalCount" for _, what in page_parts),
                          exam_id_at=at_id)


_compiled: dict[tuple[Any, ...], tuple[object, PageProjection | None]] = {}


def exam_page_projection(node: object, connection: Callable[[], SelectedField],
                         shape: tuple[Any, ...], keyset: bool,
                         descending: bool) -> PageProjection | None:
    """The compiled projection for this query text and shape, or None when it declines.

    Compiled once per parsed document (the AST node is kept alive with its entry).
    """
    key = (id(node), shape, keyset, descending)
    cached = _compiled.get(key)
    if cached is not None and cached[0] is node:
        return cached[1]
    try:
        projection: PageProjection | None = compile_exam_page(connection(), shape, keyset,
                                                              descending)
    except Decline:
        projection = None
    if len(_compiled) > 512:
        _compiled.clear()
    _compiled[key] = (node, projection)
    return projection
