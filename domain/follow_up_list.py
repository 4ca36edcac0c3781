"""The follow-up list: filtered, keyset-paged by due date, bounded by who is asking.

A caller sees the follow-ups of the exams they may see (`domain.access`): a referrer those of
the exams they ordered, a technologist those of their sites' exams, a supervisor all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from domain.access import Scope, exam_clause
from domain.enums import FollowUpStatus
from domain.models import FollowUpRecommendation
from domain.models._columns import core_table
from domain.tables import EXAMS, REFERRERS, SITES

FOLLOW_UPS = core_table(FollowUpRecommendation)


@dataclass(frozen=True)
class FollowUpCriteria:
    """Which follow-ups to list; every given criterion must match.

    `overdue`: True lists the open ones past their due date (as of `today`), False the others.
    """

    scope: Scope
    today: date
    statuses: list[FollowUpStatus] = field(default_factory=list)
    overdue: bool | None = None
    referrer_code: str | None = None
    site_code: str | None = None


def _filtered(criteria: FollowUpCriteria, selected: Any) -> sa.Select[Any]:
    f = FOLLOW_UPS.c
    query = sa.select(selected).select_from(FOLLOW_UPS.join(EXAMS, EXAMS.c.id == f.exam_id))
    clause = exam_clause(criteria.scope.kind)
    if clause is not None:
        query = query.where(clause)
    if criteria.statuses:
        query = query.where(f.status.in_(criteria.statuses))
    overdue = sa.and_(f.status == FollowUpStatus.OPEN, f.due_on < criteria.today)
    if criteria.overdue is True:
        query = query.where(overdue)
    elif criteria.overdue is False:
        query = query.where(sa.not_(overdue))
    if criteria.referrer_code is not None:
        query = query.where(
            EXAMS.c.referrer_id.in_(
                sa.select(REFERRERS.c.id).where(REFERRERS.c.code == criteria.referrer_code)
            )
        )
    if criteria.site_code is not None:
        query = query.where(
            EXAMS.c.site_id.in_(sa.select(SITES.c.id).where(SITES.c.code == criteria.site_code))
        )
    return query


def follow_up_page(
    session: Session,
    criteria: FollowUpCriteria,
    *,
    first: int,
    after: tuple[date, int] | None = None,
) -> list[FollowUpRecommendation]:
    """Up to `first` follow-ups after the keyset position (due date, id), soonest due first."""
    f = FOLLOW_UPS.c
    ids = _filtered(criteria, f.id)
    if after is not None:
        due_on, pk = after
        ids = ids.where(sa.or_(f.due_on > due_on, sa.and_(f.due_on == due_on, f.id > pk)))
    ids = ids.order_by(f.due_on, f.id).limit(first)
    wanted = list(session.scalars(ids, criteria.scope.parameters()))
    if not wanted:
        return []
    rows = {
        row.id: row
        for row in session.scalars(
            sa.select(FollowUpRecommendation).where(FOLLOW_UPS.c.id.in_(wanted))
        )
    }
    return [rows[i] for i in wanted]


def count_follow_ups(session: Session, criteria: FollowUpCriteria) -> int:
    """How many follow-ups match, all pages together."""
    query = _filtered(criteria, sa.func.count())
    return int(session.scalar(query, criteria.scope.parameters()) or 0)
