"""Department metrics, computed from the exams' status history and related records.

Every metric covers a `Scope`: a period, and optionally a site and a modality. The definitions
are in docs/metrics.md; each module says which part runs in SQL and why the rest does not.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from domain.enums import CriticalLevel, Respondent
from domain.metrics.activity import (
    ModalityUtilization,
    lead_days,
    repeat_rate,
    satisfaction,
    utilization,
)
from domain.metrics.attendance import Attendance, attendance
from domain.metrics.common import Distribution, Scope, distribution, minutes_between, scope_for
from domain.metrics.critical_results import (
    CriticalResultTimeliness,
    communications,
    timeliness,
)
from domain.metrics.follow_ups import FollowUpCompletion, follow_up_completion
from domain.metrics.turnaround import STAGES, StageTurnaround, turnaround

__all__ = [
    "STAGES",
    "Attendance",
    "CriticalResultTimeliness",
    "DepartmentMetrics",
    "Distribution",
    "FollowUpCompletion",
    "ModalityUtilization",
    "Scope",
    "StageTurnaround",
    "department_metrics",
    "distribution",
    "scope_for",
]


@dataclass(frozen=True)
class DepartmentMetrics:
    scope: Scope
    turnaround: list[StageTurnaround]
    attendance: Attendance
    repeat_rate: float | None
    critical_results: list[CriticalResultTimeliness]
    # Minutes to acknowledge the acknowledged critical and urgent results together (the
    # schema's older, deprecated summary; `critical_results` has it per category).
    critical_ack_minutes: Distribution
    referrer_satisfaction: float | None
    patient_satisfaction: float | None
    order_to_appointment_lead_days: Distribution
    utilization: list[ModalityUtilization]
    follow_ups: FollowUpCompletion


def department_metrics(
    session: Session,
    scope: Scope,
    *,
    now: datetime,
    late_cancellation_window: timedelta,
    result_windows: Mapping[CriticalLevel, timedelta] | None = None,
) -> DepartmentMetrics:
    """Every key metric for the scope, as of `now`; `result_windows` are the configured
    acknowledgement windows (a result is judged by the one it was communicated with)."""
    results = communications(session, scope)
    scores = satisfaction(session, scope)
    return DepartmentMetrics(
        scope=scope,
        turnaround=turnaround(session, scope),
        attendance=attendance(session, scope, late_cancellation_window=late_cancellation_window),
        repeat_rate=repeat_rate(session, scope),
        critical_results=timeliness(results, now=now, windows=result_windows),
        critical_ack_minutes=distribution(
            minutes_between(r.notified_at, r.acknowledged_at)
            for r in results
            if r.acknowledged_at is not None
            and r.level in {CriticalLevel.CRITICAL, CriticalLevel.URGENT}
        ),
        referrer_satisfaction=scores.get(Respondent.REFERRER),
        patient_satisfaction=scores.get(Respondent.PATIENT),
        order_to_appointment_lead_days=lead_days(session, scope),
        utilization=utilization(session, scope),
        follow_ups=follow_up_completion(session, scope, now=now),
    )
