"""Read models: the queries the API lists and searches with (no writes here)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from domain.access import EVERYTHING, Scope, exam_clause
from domain.enums import ExamStatus, Modality, Priority
from domain.tables import EXAMS, PATIENTS, PROCEDURES, REFERRERS, REPORTS, SITES

MAX_PAGE = 100


@dataclass(frozen=True)
class ExamCriteria:
    """Filters of an exam list; each given one must match."""

    statuses: Sequence[ExamStatus] = ()
    priorities: Sequence[Priority] = ()
    modalities: Sequence[Modality] = ()
    site_code: str | None = None
    patient_mrn: str | None = None
    ordered_from: datetime | None = None
    ordered_to: datetime | None = None
    scope: Scope = EVERYTHING  # whose exams: the caller's object-level access

    def shape(self) -> tuple[Any, ...]:
        """Which criteria are set: statements are built (and cached) per shape."""
        return (
            bool(self.statuses),
            bool(self.priorities),
            bool(self.modalities),
            bool(self.site_code),
            bool(self.patient_mrn),
            self.ordered_from is not None,
            self.ordered_to is not None,
            self.scope.kind,
        )

    def parameters(self) -> dict[str, Any]:
        """The values bound into a statement of this shape."""
        # Each value once: a filter repeating one status 40,000 times would otherwise bind
        # more parameters than PostgreSQL accepts (32,767).
        return {
            "statuses": list(dict.fromkeys(self.statuses)),
            "priorities": list(dict.fromkeys(self.priorities)),
            "modalities": list(dict.fromkeys(self.modalities)),
            "site_code": self.site_code,
            "patient_mrn": self.patient_mrn,
            "ordered_from": self.ordered_from,
            "ordered_to": self.ordered_to,
            **self.scope.parameters(),
        }


@dataclass(frozen=True)
class Keyset:
    """A position in an exam list: the (ordered_at, id) of the last row seen."""

    ordered_at: datetime
    exam_id: int


def where_matching(query: sa.Select[Any], shape: tuple[Any, ...]) -> sa.Select[Any]:
    """`query` restricted to the exams matching criteria of this shape (values bound later)."""
    e = EXAMS.c
    statuses, priorities, modalities, site, mrn, since, until, scope = shape
    visible = exam_clause(scope)
    if visible is not None:
        query = query.where(visible)
    if statuses:
        query = query.where(e.status.in_(sa.bindparam("statuses", expanding=True)))
    if priorities:
        query = query.where(e.priority.in_(sa.bindparam("priorities", expanding=True)))
    if modalities:
        query = query.where(
            e.procedure_id.in_(
                sa.select(PROCEDURES.c.id).where(
                    PROCEDURES.c.modality.in_(sa.bindparam("modalities", expanding=True))
                )
            )
        )
    if site:
        query = query.where(
            e.site_id.in_(sa.select(SITES.c.id).where(SITES.c.code == sa.bindparam("site_code")))
        )
    if mrn:
        query = query.where(
            e.patient_id.in_(
                sa.select(PATIENTS.c.id).where(PATIENTS.c.mrn == sa.bindparam("patient_mrn"))
            )
        )
    if since:
        query = query.where(e.ordered_at >= sa.bindparam("ordered_from", type_=e.ordered_at.type))
    if until:
        query = query.where(e.ordered_at < sa.bindparam("ordered_to", type_=e.ordered_at.type))
    return query


def count_exams(session: Session, criteria: ExamCriteria) -> int:
    """How many exams match."""
    query = where_matching(sa.select(sa.func.count()).select_from(EXAMS), criteria.shape())
    params = {k: v for k, v in criteria.parameters().items() if v not in (None, [])}
    params.update(criteria.scope.parameters())
    return int(session.scalar(query, params) or 0)


# Relations an exam page can bring along in the same statement: name -> (table, foreign key).
_JOINABLE = {
    "patient": (PATIENTS, "patient_id"),
    "procedure": (PROCEDURES, "procedure_id"),
    "site": (SITES, "site_id"),
    "referrer": (REFERRERS, "referrer_id"),
}


@dataclass(frozen=True)
class ExamPageRow:
    """One exam of a page and the related rows fetched with it (attribute access by column)."""

    exam: SimpleNamespace
    related: dict[str, SimpleNamespace | None]


Layout = tuple[tuple[str | None, tuple[str, ...]], ...]


@lru_cache(maxsize=256)
def _page_statement(
    include: frozenset[str], shape: tuple[Any, ...], keyset: bool, descending: bool
) -> tuple[sa.Select[Any], Layout]:
    """The page statement for one combination of relations, filters and direction.

    Built once and reused: constructing a SQLAlchemy statement costs more than running this
    one on SQLite. `layout` says which relation each run of columns belongs to.
    """
    e = EXAMS.c
    query = sa.select(*EXAMS.c)
    layout: list[tuple[str | None, tuple[str, ...]]] = [(None, tuple(c.name for c in EXAMS.c))]
    for name, (table, key) in _JOINABLE.items():
        if name in include:
            query = query.add_columns(*table.c).join(table, table.c.id == e[key])
            layout.append((name, tuple(c.name for c in table.c)))
    if "report" in include:
        query = query.add_columns(*REPORTS.c).outerjoin(REPORTS, REPORTS.c.exam_id == e.id)
        layout.append(("report", tuple(c.name for c in REPORTS.c)))
    return paged(where_matching(query, shape), keyset=keyset, descending=descending), tuple(layout)


def paged(query: sa.Select[Any], *, keyset: bool, descending: bool) -> sa.Select[Any]:
    """`query` in (ordered_at, id) order from a bound keyset position, `first` rows."""
    e = EXAMS.c
    position = sa.tuple_(e.ordered_at, e.id)
    if keyset:
        seen = sa.tuple_(
            sa.bindparam("after_at", type_=e.ordered_at.type), sa.bindparam("after_id")
        )
        query = query.where(position < seen if descending else position > seen)
    order = (e.ordered_at.desc(), e.id.desc()) if descending else (e.ordered_at, e.id)
    return query.order_by(*order).limit(sa.bindparam("first"))


def page_parameters(criteria: ExamCriteria, *, first: int, after: Keyset | None) -> dict[str, Any]:
    """The values bound into a page statement."""
    params = {k: v for k, v in criteria.parameters().items() if v not in (None, [])}
    params.update(criteria.scope.parameters())
    params["first"] = first
    if after is not None:
        params["after_at"], params["after_id"] = after.ordered_at, after.exam_id
    return params


def exam_page(
    session: Session,
    criteria: ExamCriteria,
    *,
    first: int,
    after: Keyset | None,
    descending: bool,
    include: frozenset[str],
) -> list[ExamPageRow]:
    """A keyset page of exams with the named relations, in one statement and no ORM objects.

    `include` may name patient, procedure, site, referrer and report (the exam's report, if
    any); each comes back in `related`, built from plain rows (mapping ORM objects would cost
    more than the query).
    """
    shape = criteria.shape()
    query, layout = _page_statement(include, shape, after is not None, descending)
    params = page_parameters(criteria, first=first, after=after)
    page = []
    for row in session.execute(query, params):
        values = tuple(row)
        start = 0
        exam: SimpleNamespace | None = None
        related: dict[str, SimpleNamespace | None] = {}
        for name, columns in layout:
            part = values[start : start + len(columns)]
            start += len(columns)
            if name is None:
                exam = SimpleNamespace(**dict(zip(columns, part, strict=True)))
            else:  # an outer-joined relation that is absent comes back all NULL
                related[name] = (
                    None
                    if part[0] is None
                    else SimpleNamespace(**dict(zip(columns, part, strict=True)))
                )
        assert exam is not None
        page.append(ExamPageRow(exam, related))
    return page
