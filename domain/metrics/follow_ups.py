"""Follow-up completion: of the recommendations that fell due in the period, how many were
done, how long that took, and how many are overdue.

A follow-up counts in the period its due date falls in (its midnight, UTC, in [start, end)),
at the recommending exam's site; the modality is the recommended one (follow-ups recorded
without a modality count only when no modality is asked for). Cancelled ones count nowhere.
`completed` are those done by `now` (by the matched exam or by hand); `overdue` the open ones
whose due date is before `now`'s day; `awaiting` the open ones not due yet. Days to completion
run from the recommendation to its completion. SQL selects the follow-ups; the counts and the
median are taken in Python, as for the other metrics (both backends give the same numbers).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlmodel import col

from domain.enums import FollowUpStatus
from domain.metrics.common import Distribution, Scope, distribution, rate
from domain.models import Exam, FollowUpRecommendation


@dataclass(frozen=True)
class FollowUpCompletion:
    """The follow-ups due in the period.

    `completion_rate` = completed / (completed + overdue): the ones not yet due are left out.
    """

    due: int
    completed: int
    overdue: int
    awaiting: int
    completion_rate: float | None
    days_to_completion: Distribution


def follow_up_completion(session: Session, scope: Scope, *, now: datetime) -> FollowUpCompletion:
    """The completion of the follow-ups due in the scope's period, as of `now`."""
    f = FollowUpRecommendation
    query = sa.select(col(f.status), col(f.due_on), col(f.created_at), col(f.completed_at)).where(
        col(f.status) != FollowUpStatus.CANCELLED,
        col(f.due_on) >= first_day(scope.start),
        col(f.due_on) < first_day(scope.end),
    )
    if scope.site_id is not None:
        query = query.where(
            col(f.exam_id).in_(sa.select(col(Exam.id)).where(col(Exam.site_id) == scope.site_id))
        )
    if scope.modality is not None:
        query = query.where(col(f.modality) == scope.modality)
    today = now.date()
    completed: list[float] = []
    overdue = awaiting = 0
    for status, due_on, created_at, completed_at in session.execute(query):
        if status == FollowUpStatus.COMPLETED and completed_at is not None and completed_at <= now:
            completed.append((completed_at - created_at).total_seconds() / 86400)
        elif due_on < today:
            overdue += 1
        else:
            awaiting += 1
    return FollowUpCompletion(
        due=len(completed) + overdue + awaiting,
        completed=len(completed),
        overdue=overdue,
        awaiting=awaiting,
        completion_rate=rate(len(completed), len(completed) + overdue),
        days_to_completion=distribution(completed),
    )


def first_day(at: datetime) -> date:
    """The first day (UTC) starting at or after `at`: a due date is in [start, end) when its
    midnight is."""
    utc = at.astimezone(UTC)
    return utc.date() if utc.time() == time(0) else utc.date() + timedelta(days=1)
