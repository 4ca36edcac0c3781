"""Read models: the queries the API lists and searches with (no writes here)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from domain.enums import ExamStatus, Modality, Priority
from domain.models import Exam, Patient, Procedure, Site

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
