"""Read models: the queries the API lists and searches with (no writes here)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from domain.enums import ExamStatus, Modality, Priority
from domain.models import Exam, Patient, Procedure, Referrer, Report, Site

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


@dataclass(frozen=True)
class Keyset:
    """A position in an exam list: the (ordered_at, id) of the last row seen."""

    ordered_at: datetime
    exam_id: int


def _matching(criteria: ExamCriteria, query: sa.Select[Any]) -> sa.Select[Any]:
    if criteria.statuses:
        query = query.where(Exam.status.in_(criteria.statuses))  # type: ignore[attr-defined]
    if criteria.priorities:
        query = query.where(Exam.priority.in_(criteria.priorities))  # type: ignore[attr-defined]
    if criteria.modalities:
        query = query.where(Exam.procedure_id.in_(  # type: ignore[union-attr]
            sa.select(Procedure.id).where(Procedure.modality.in_(criteria.modalities))))  # type: ignore[attr-defined]
    if criteria.site_code:
        query = query.where(Exam.site_id.in_(  # type: ignore[attr-defined]
            sa.select(Site.id).where(Site.code == criteria.site_code)))
    if criteria.patient_mrn:
        query = query.where(Exam.patient_id.in_(  # type: ignore[attr-defined]
            sa.select(Patient.id).where(Patient.mrn == criteria.patient_mrn)))
    if criteria.ordered_from:
        query = query.where(Exam.ordered_at >= criteria.ordered_from)  # type: ignore[operator]
    if criteria.ordered_to:
        query = query.where(Exam.ordered_at < criteria.ordered_to)  # type: ignore[operator]
    return query


def count_exams(session: Session, criteria: ExamCriteria) -> int:
    """How many exams match."""
    query = _matching(criteria, sa.select(sa.func.count()).select_from(Exam))
    return int(session.scalar(query) or 0)


def list_exams(session: Session, criteria: ExamCriteria, *, first: int, after: Keyset | None,
               descending: bool = True) -> list[Exam]:
    """One page of exams in (ordered_at, id) order, starting after `after` (keyset paging)."""
    query = _matching(criteria, sa.select(Exam))
    key = sa.tuple_(Exam.ordered_at, Exam.id)
    if after is not None:
        seen = sa.tuple_(sa.literal(after.ordered_at, Exam.__table__.c.ordered_at.type),  # type: ignore[attr-defined]
                         sa.literal(after.exam_id))
        query = query.where(key < seen if descending else key > seen)
    order = (Exam.ordered_at.desc(), Exam.id.desc()) if descending else (  # type: ignore[attr-defined,union-attr]
        Exam.ordered_at.asc(), Exam.id.asc())  # type: ignore[attr-defined,union-attr]
    return list(session.scalars(query.order_by(*order).limit(first)))


# Relations an exam page can bring along in the same statement: name -> (table, foreign key).
_JOINABLE = {"patient": (Patient, "patient_id"), "procedure": (Procedure, "procedure_id"),
             "site": (Site, "site_id"), "referrer": (Referrer, "referrer_id")}


@dataclass(frozen=True)
class ExamPageRow:
    """One exam of a page and the related rows fetched with it (attribute access by column)."""

    exam: SimpleNamespace
    related: dict[str, SimpleNamespace | None]


def exam_page(session: Session, criteria: ExamCriteria, *, first: int, after: Keyset | None,
              descending: bool, include: frozenset[str]) -> list[ExamPageRow]:
    """A keyset page of exams with the named relations, in one statement and no ORM objects.

    `include` may name patient, procedure, site, referrer and report (the exam's report, if
    any); each comes back in `related`, built from plain rows (mapping ORM objects would cost
    more than the query).
    """
    exams = Exam.__table__  # type: ignore[attr-defined]
    query = sa.select(*exams.c)
    # (relation, its column names) in select order, to slice each row positionally.
    layout: list[tuple[str | None, list[str]]] = [(None, [c.name for c in exams.c])]
    for name, (model, key) in _JOINABLE.items():
        if name in include:
            table = model.__table__  # type: ignore[attr-defined]
            query = query.add_columns(*table.c).join(table, table.c.id == exams.c[key])
            layout.append((name, [c.name for c in table.c]))
    if "report" in include:
        reports = Report.__table__  # type: ignore[attr-defined]
        query = query.add_columns(*reports.c)
        query = query.outerjoin(reports, reports.c.exam_id == exams.c.id)
        layout.append(("report", [c.name for c in reports.c]))
    query = _matching(criteria, query)
    key = sa.tuple_(exams.c.ordered_at, exams.c.id)
    if after is not None:
        seen = sa.tuple_(sa.literal(after.ordered_at, exams.c.ordered_at.type),
                         sa.literal(after.exam_id))
        query = query.where(key < seen if descending else key > seen)
    order = ((exams.c.ordered_at.desc(), exams.c.id.desc()) if descending
             else (exams.c.ordered_at.asc(), exams.c.id.asc()))
    rows = session.execute(query.order_by(*order).limit(first)).all()
    page = []
    for row in rows:
        values = tuple(row)
        start, exam, related = 0, None, {}
        for name, columns in layout:
            part = values[start:start + len(columns)]
            start += len(columns)
            if name is None:
                exam = SimpleNamespace(**dict(zip(columns, part, strict=True)))
            else:  # an outer-joined relation that is absent comes back all NULL
                related[name] = (None if part[0] is None
                                 else SimpleNamespace(**dict(zip(columns, part, strict=True))))
        assert exam is not None
        page.append(ExamPageRow(exam, related))
    return page
