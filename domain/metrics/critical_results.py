"""Timeliness of result communication per category (ACR: critical, urgent, unexpected).

A result communicated in the period counts in its category. It is acknowledged in time when
acknowledged within the window it was communicated with (the record's `window_minutes`: its
category's configured window then, the one its escalation runs on), late when after it, and a
miss when never acknowledged and the window is over; an acknowledgement recorded for the
recipient counts at the time of their read-back; one whose window is still open is awaiting
and counted nowhere yet. SQL selects the communications in scope; the window comparisons and
the median are taken in Python (SQLite has no interval arithmetic or percentiles; both
backends must give the same numbers).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlmodel import col

from domain.enums import CriticalLevel
from domain.metrics.common import Distribution, Scope, distribution, minutes_between, rate
from domain.models import ResultCommunication

CATEGORIES = (CriticalLevel.CRITICAL, CriticalLevel.URGENT, CriticalLevel.UNEXPECTED)


@dataclass(frozen=True)
class Communication:
    """The facts of one communicated result the metric needs."""

    level: CriticalLevel
    notified_at: datetime
    acknowledged_at: datetime | None
    window: timedelta | None = None  # the record's; None: the category's window


@dataclass(frozen=True)
class CriticalResultTimeliness:
    """One category's results: in time, late, missed (never acknowledged) and awaiting.

    `in_time_rate` = in time / (communicated - awaiting): a miss counts against it.
    `minutes_to_acknowledge` covers the acknowledged ones, in time or late.
    """

    level: CriticalLevel
    window: timedelta
    communicated: int
    acknowledged_in_time: int
    acknowledged_late: int
    unacknowledged: int
    awaiting: int
    in_time_rate: float | None
    minutes_to_acknowledge: Distribution


def communications(session: Session, scope: Scope) -> list[Communication]:
    """The results with a finding category communicated in the period, in the scope."""
    row = ResultCommunication
    return [
        Communication(
            level,
            notified_at,
            acknowledged_at,
            timedelta(minutes=minutes) if minutes is not None else None,
        )
        for level, notified_at, acknowledged_at, minutes in session.execute(
            sa.select(
                col(row.critical_level),
                col(row.notified_at),
                col(row.acknowledged_at),
                col(row.window_minutes),
            ).where(
                col(row.critical_level).in_(CATEGORIES),
                scope.covers(col(row.notified_at)),
                scope.covers_exam(col(row.exam_id)),
            )
        )
    ]


def timeliness(
    results: Sequence[Communication],
    *,
    now: datetime,
    windows: Mapping[CriticalLevel, timedelta] | None = None,
) -> list[CriticalResultTimeliness]:
    """Each category's timeliness, as of `now` (which decides whether a window is over); each
    result is judged by its own window, `windows` (the configured ones) where it has none."""
    from domain.services.results import ACKNOWLEDGE_WITHIN  # the windows escalation uses

    configured = windows or ACKNOWLEDGE_WITHIN
    report = []
    for level in CATEGORIES:
        mine = [r for r in results if r.level == level]
        due = {id(r): r.notified_at + (r.window or configured[level]) for r in mine}
        took = [
            minutes_between(r.notified_at, r.acknowledged_at)
            for r in mine
            if r.acknowledged_at is not None
        ]
        in_time = sum(
            1 for r in mine if r.acknowledged_at is not None and r.acknowledged_at <= due[id(r)]
        )
        unacknowledged = [r for r in mine if r.acknowledged_at is None]
        awaiting = sum(1 for r in unacknowledged if due[id(r)] > now)
        report.append(
            CriticalResultTimeliness(
                level=level,
                window=configured[level],
                communicated=len(mine),
                acknowledged_in_time=in_time,
                acknowledged_late=len(took) - in_time,
                unacknowledged=len(unacknowledged) - awaiting,
                awaiting=awaiting,
                in_time_rate=rate(in_time, len(mine) - awaiting),
                minutes_to_acknowledge=distribution(took),
            )
        )
    return report
