"""Attendance of booked appointments: no-shows and late cancellations.

Only booked appointments count: a walk-in (an exam checked in without an appointment) has no
appointment row, so it is in neither the numerator nor the denominator. SQL counts the
appointments by outcome; whether a cancellation was late compares two of its timestamps with a
configurable window, done in Python for the same numbers on SQLite (no interval arithmetic)
and PostgreSQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlmodel import col

from domain.enums import AppointmentStatus
from domain.metrics.common import Scope, rate
from domain.models import Appointment


@dataclass(frozen=True)
class Attendance:
    """What became of the appointments booked to start in the period.

    `appointments` counts them all except those moved to another slot (the new slot counts).
    No-show rate: no-shows / (no-shows + arrivals); appointments with no outcome recorded yet
    are in neither. Late cancellation rate: appointments cancelled less than
    `late_cancellation_window` before their start (or after it) / `appointments`.
    """

    appointments: int
    arrivals: int
    no_shows: int
    no_show_rate: float | None
    cancellations: int
    late_cancellations: int
    late_cancellation_rate: float | None
    late_cancellation_window: timedelta


def attendance(
    session: Session,
    scope: Scope,
    *,
    late_cancellation_window: timedelta,
) -> Attendance:
    """No-shows and late cancellations of the booked appointments starting in the period."""
    due = (
        scope.covers(col(Appointment.starts_at)),
        scope.covers_exam(col(Appointment.exam_id)),
        col(Appointment.status) != AppointmentStatus.RESCHEDULED,
    )
    counts: dict[AppointmentStatus, int] = {
        status: count
        for status, count in session.execute(
            sa.select(col(Appointment.status), sa.func.count())
            .where(*due)
            .group_by(col(Appointment.status))
        )
    }
    cancelled = session.execute(
        sa.select(col(Appointment.starts_at), col(Appointment.cancelled_at)).where(
            *due, col(Appointment.status) == AppointmentStatus.CANCELLED
        )
    ).all()
    late = sum(
        1
        for starts_at, cancelled_at in cancelled
        if cancelled_at is not None and cancelled_at > starts_at - late_cancellation_window
    )
    arrivals = counts.get(AppointmentStatus.ARRIVED, 0)
    no_shows = counts.get(AppointmentStatus.NO_SHOW, 0)
    appointments = sum(counts.values())
    return Attendance(
        appointments=appointments,
        arrivals=arrivals,
        no_shows=no_shows,
        no_show_rate=rate(no_shows, no_shows + arrivals),
        cancellations=counts.get(AppointmentStatus.CANCELLED, 0),
        late_cancellations=late,
        late_cancellation_rate=rate(late, appointments),
        late_cancellation_window=late_cancellation_window,
    )
