"""A resource type radflow serves: how its rows are selected, bounded, searched and built.

Each resource type is one `ResourceType` in one module of `interfaces.fhir.resources`; the
routes, the search and the CapabilityStatement all read the same registry, so the statement
advertises exactly what the routes do.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from fhir.resources.R4B.resource import Resource
from sqlalchemy.orm import Session

from domain.access import Scope, ScopeKind, exam_clause
from domain.tables import EXAMS, PATIENTS
from interfaces.fhir.search import SearchParameter, reference_parameter

Row = Any  # a SQLAlchemy Row with the labelled columns of a resource type's statement


@dataclass(frozen=True)
class ResourceType:
    """One FHIR resource type: its statement (labelled columns, one row per resource), its
    logical id column, the actor's bound on it, its search parameters and its builder.

    Every statement selects the logical id first, and labels `exam_id` (or None),
    `patient_id` and `mrn`: what the audit record notes of each resource sent.
    """

    name: str
    documentation: str
    statement: Callable[[], sa.Select[Any]]
    key: sa.ColumnElement[int]
    parameters: Mapping[str, SearchParameter]
    build: Callable[[Row, bool, Any], Resource]  # (row, may see PHI, its `more`) -> resource
    visible: Callable[[Scope], sa.ColumnElement[bool] | None]
    # What a page of rows needs beyond its statement (e.g. a report's addenda), by logical id.
    more: Callable[[Session, Sequence[Row]], Mapping[int, Any]] | None = None
    phi_parameters: frozenset[str] = frozenset()  # searching by these reveals PHI
    create: bool = False


def exam_visible(scope: Scope) -> sa.ColumnElement[bool] | None:
    """The bound of a resource that belongs to an exam: the exam is in the actor's scope."""
    return None if scope.unbounded else exam_clause(scope.kind)


def patient_visible(scope: Scope) -> sa.ColumnElement[bool] | None:
    """A patient's own record, or one whose exams the actor may see."""
    if scope.unbounded:
        return None
    if scope.kind is ScopeKind.PATIENT:
        return PATIENTS.c.mrn == sa.bindparam("scope_subject", type_=sa.String())
    clause = exam_clause(scope.kind)
    exams = sa.select(EXAMS.c.patient_id)
    return PATIENTS.c.id.in_(exams if clause is None else exams.where(clause))


def instant(moment: datetime | None) -> str | None:
    """A FHIR instant / dateTime (UTC, to the second)."""
    return None if moment is None else moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def day(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def patient_reference(row: Row, phi: bool) -> dict[str, Any]:
    """A reference to the row's patient (with their name only for a caller granted PHI)."""
    found: dict[str, Any] = {"reference": f"Patient/{row.patient_id}"}
    if phi:
        found["display"] = f"{row.given_name} {row.family_name}"
    return found


def drop_empty(document: dict[str, Any]) -> dict[str, Any]:
    """The document without None values or empty lists (the model library refuses `null`)."""
    return {k: v for k, v in document.items() if v is not None and v != []}


def patient_parameter(
    name: str, column: sa.ColumnElement[int] = EXAMS.c.patient_id
) -> SearchParameter:
    """A reference to the patient (`patient`, `subject`, `actor`): the exam's by default."""
    return reference_parameter(name, "Patient", column, "The patient (Patient/id).")


def order_parameter(name: str, column: sa.ColumnElement[int]) -> SearchParameter:
    """A reference to the order the resource belongs to (`based-on`, `basedon`)."""
    return reference_parameter(name, "ServiceRequest", column, "The order (ServiceRequest/id).")
