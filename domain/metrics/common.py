"""What every metric shares: the scope it is computed over and how durations are summarised."""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, Session
from sqlmodel import col

from domain.enums import Modality
from domain.errors import FieldIssue, IssueCode, ValidationFailed
from domain.models import Exam, Procedure, Site

Column = Mapped[Any] | sa.ColumnElement[Any]  # a column, as `col()` gives it


@dataclass(frozen=True)
class Scope:
    """The period [start, end) a metric covers, and optionally one site and one modality.

    Site and modality are the exam's: where it was ordered for, and its procedure's modality.
    """

    start: datetime
    end: datetime
    site_id: int | None = None
    modality: Modality | None = None

    def exams(self) -> sa.Select[Any]:
        """The ids of the exams in this scope's site and modality (any time)."""
        query = sa.select(col(Exam.id))
        if self.site_id is not None:
            query = query.where(col(Exam.site_id) == self.site_id)
        if self.modality is not None:
            query = query.where(
                col(Exam.procedure_id).in_(
                    sa.select(col(Procedure.id)).where(col(Procedure.modality) == self.modality)
                )
            )
        return query

    def covers_exam(self, exam_id: Column) -> sa.ColumnElement[bool]:
        """A condition: the exam `exam_id` names is of this scope's site and modality."""
        if self.site_id is None and self.modality is None:
            return sa.true()
        return exam_id.in_(self.exams())

    def covers(self, at: Column) -> sa.ColumnElement[bool]:
        """A condition: the time `at` falls in the period."""
        return sa.and_(at >= self.start, at < self.end)


def scope_for(
    session: Session,
    *,
    start: datetime,
    end: datetime,
    site_code: str | None = None,
    modality: Modality | None = None,
) -> Scope:
    """The scope of a metrics request, its site looked up by code."""
    site_id = None
    if site_code is not None:
        site_id = session.scalar(sa.select(col(Site.id)).where(col(Site.code) == site_code))
        if site_id is None:
            raise ValidationFailed(
                [FieldIssue("siteCode", IssueCode.NOT_FOUND, f"site {site_code} does not exist")]
            )
    return Scope(start=start, end=end, site_id=site_id, modality=modality)


@dataclass(frozen=True)
class Distribution:
    """Count, median and 90th percentile of a set of durations, in minutes (or days)."""

    count: int
    median_minutes: float | None
    p90_minutes: float | None


def distribution(values: Iterable[float]) -> Distribution:
    """Count, median (the mean of the two middle values for an even count) and p90 by
    nearest rank (the smallest value with at least 90 % of the values at or below it)."""
    data = sorted(values)
    if not data:
        return Distribution(0, None, None)
    rank = -(-9 * len(data) // 10)  # ceil(0.9 n) in integers: no float rounding at the edge
    return Distribution(len(data), round(statistics.median(data), 2), round(data[rank - 1], 2))


def minutes_between(a: datetime, b: datetime) -> float:
    """Minutes from a to b."""
    return (b - a).total_seconds() / 60


def rate(numerator: int, denominator: int) -> float | None:
    """numerator / denominator to four places; None when nothing was counted."""
    return round(numerator / denominator, 4) if denominator else None
