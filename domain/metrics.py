"""Department metrics, computed from the exams' status history and related records."""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlmodel import col

from domain.enums import CriticalLevel, ExamStatus
from domain.models import (
    Acquisition,
    Appointment,
    Exam,
    ExamStatusChange,
    ModalityResource,
    OpeningHours,
    Procedure,
    ResultCommunication,
    SatisfactionSurvey,
    Site,
)

# The stages whose turnaround we measure: from entering the first status to entering the second.
STAGES: list[tuple[str, ExamStatus, ExamStatus]] = [
    ("ORDER_TO_SCHEDULED", ExamStatus.ORDERED, ExamStatus.SCHEDULED),
    ("CHECK_IN_TO_ACQUIRED", ExamStatus.CHECKED_IN, ExamStatus.ACQUIRED),
    ("ACQUIRED_TO_READY", ExamStatus.ACQUIRED, ExamStatus.READY_FOR_READ),
    ("READY_TO_OPENED", ExamStatus.READY_FOR_READ, ExamStatus.IN_INTERPRETATION),
    ("READY_TO_FINAL", ExamStatus.READY_FOR_READ, ExamStatus.FINAL),
    ("FINAL_TO_COMMUNICATED", ExamStatus.FINAL, ExamStatus.COMMUNICATED),
    ("ORDER_TO_FINAL", ExamStatus.ORDERED, ExamStatus.FINAL),
]


@dataclass(frozen=True)
class Distribution:
    """Median and 90th percentile of a set of durations, in minutes."""

    count: int
    median_minutes: float | None
    p90_minutes: float | None


@dataclass(frozen=True)
class StageTurnaround:
    stage: str
    modality: str
    priority: str
    minutes: Distribution


@dataclass(frozen=True)
class ModalityUtilization:
    resource_code: str
    open_minutes: float
    booked_minutes: float
    used_minutes: float


@dataclass(frozen=True)
class DepartmentMetrics:
    start: datetime
    end: datetime
    turnaround: list[StageTurnaround]
    no_show_rate: float | None
    repeat_rate: float | None
    critical_ack_minutes: Distribution
    referrer_satisfaction: float | None
    patient_satisfaction: float | None
    order_to_appointment_lead_days: Distribution
    utilization: list[ModalityUtilization]


def distribution(values: Iterable[float]) -> Distribution:
    """Count, median and p90 (nearest rank) of minutes."""
    data = sorted(values)
    if not data:
        return Distribution(0, None, None)
    p90 = data[min(len(data) - 1, max(0, round(0.9 * len(data) + 0.5) - 1))]
    return Distribution(len(data), round(statistics.median(data), 2), round(p90, 2))


def _minutes(a: datetime, b: datetime) -> float:
    return (b - a).total_seconds() / 60


def _turnaround(session: Session, start: datetime, end: datetime) -> list[StageTurnaround]:
    rows = session.execute(
        sa.select(col(ExamStatusChange.exam_id), col(ExamStatusChange.to_status),
                  col(ExamStatusChange.at), col(Procedure.modality), col(Exam.priority))
        .join(Exam, col(Exam.id) == col(ExamStatusChange.exam_id))
        .join(Procedure, col(Procedure.id) == col(Exam.procedure_id))
        .where(col(Exam.id).in_(sa.select(col(ExamStatusChange.exam_id)).where(
            col(ExamStatusChange.at) >= start, col(ExamStatusChange.at) < end)))
        .order_by(col(ExamStatusChange.exam_id), col(ExamStatusChange.id))
    ).all()
    # First time each exam entered each status: the stage clocks start and stop there.
    entered: dict[int, dict[ExamStatus, datetime]] = defaultdict(dict)
    keys: dict[int, tuple[str, str]] = {}
    for exam_id, status, at, modality, priority in rows:
        entered[exam_id].setdefault(status, at)
        keys[exam_id] = (str(modality.value), str(priority.value))
    samples: dict[tuple[str, str, str], list[float]] = defaultdict(list)
    for exam_id, times in entered.items():
        modality_code, priority_code = keys[exam_id]
        for stage, a, b in STAGES:
            if a in times and b in times and start <= times[b] < end:
                samples[(stage, modality_code, priority_code)].append(
                    _minutes(times[a], times[b]))
    return [StageTurnaround(stage, modality, priority, distribution(values))
            for (stage, modality, priority), values in sorted(samples.items())]


def _rate(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def _utilization(session: Session, start: datetime, end: datetime) -> list[ModalityUtilization]:
    from domain.services.scheduling import _candidate_starts  # the same calendar as booking

    result = []
    for resource, site in session.execute(
            sa.select(ModalityResource, Site)
            .join(Site, col(Site.id) == col(ModalityResource.site_id))
            .order_by(col(ModalityResource.code))):
        has_hours = session.scalar(sa.select(sa.func.count()).select_from(OpeningHours).where(
            col(OpeningHours.resource_id) == resource.id))
        open_minutes = (len(_candidate_starts(session, resource, site, start, end, 1))
                        * resource.slot_minutes) if has_hours else 0
        booked = session.execute(sa.select(
            col(Appointment.starts_at), col(Appointment.ends_at)).where(
            col(Appointment.resource_id) == resource.id, col(Appointment.starts_at) >= start,
            col(Appointment.starts_at) < end,
            col(Appointment.status).not_in(["CANCELLED", "RESCHEDULED"]))).all()
        used = session.execute(sa.select(
            col(Acquisition.started_at), col(Acquisition.ended_at)).where(
            col(Acquisition.resource_id) == resource.id, col(Acquisition.started_at) >= start,
            col(Acquisition.started_at) < end, col(Acquisition.ended_at).is_not(None))).all()
        result.append(ModalityUtilization(
            resource.code, float(open_minutes), round(sum(_minutes(a, b) for a, b in booked), 1),
            round(sum(_minutes(a, b) for a, b in used if b is not None), 1)))
    return result


def department_metrics(session: Session, start: datetime, end: datetime) -> DepartmentMetrics:
    """Every key metric for the period [start, end)."""
    in_period = (col(ExamStatusChange.at) >= start) & (col(ExamStatusChange.at) < end)
    entered = dict(session.execute(
        sa.select(col(ExamStatusChange.to_status),
                  sa.func.count(sa.distinct(col(ExamStatusChange.exam_id))))
        .where(in_period).group_by(col(ExamStatusChange.to_status))).all())
    no_shows = entered.get(ExamStatus.NO_SHOW, 0)
    arrived = entered.get(ExamStatus.CHECKED_IN, 0)
    attempts = session.execute(sa.select(
        sa.func.count(), sa.func.count(col(Acquisition.repeat_reason))).where(
        col(Acquisition.started_at) >= start, col(Acquisition.started_at) < end)).one()
    acks = session.execute(sa.select(col(ResultCommunication.notified_at),
                                     col(ResultCommunication.acknowledged_at)).where(
        col(ResultCommunication.critical_level).in_([CriticalLevel.CRITICAL, CriticalLevel.URGENT]),
        col(ResultCommunication.notified_at) >= start, col(ResultCommunication.notified_at) < end,
        col(ResultCommunication.acknowledged_at).is_not(None))).all()
    surveys: dict[str, object] = dict(session.execute(
        sa.select(col(SatisfactionSurvey.respondent),
                  sa.func.avg(col(SatisfactionSurvey.score))).where(
            col(SatisfactionSurvey.submitted_at) >= start,
            col(SatisfactionSurvey.submitted_at) < end)
        .group_by(col(SatisfactionSurvey.respondent))).all())
    leads = session.execute(sa.select(col(Exam.ordered_at), sa.func.min(col(Appointment.starts_at)))
                            .join(Appointment, col(Appointment.exam_id) == col(Exam.id))
                            .where(col(Exam.ordered_at) >= start, col(Exam.ordered_at) < end)
                            .group_by(col(Exam.id), col(Exam.ordered_at))).all()
    return DepartmentMetrics(
        start=start, end=end, turnaround=_turnaround(session, start, end),
        no_show_rate=_rate(no_shows, no_shows + arrived),
        repeat_rate=_rate(attempts[1], attempts[0]),
        critical_ack_minutes=distribution(_minutes(a, b) for a, b in acks if b is not None),
        referrer_satisfaction=_avg(surveys.get("REFERRER")),
        patient_satisfaction=_avg(surveys.get("PATIENT")),
        order_to_appointment_lead_days=distribution(_minutes(a, b) / 1440 for a, b in leads),
        utilization=_utilization(session, start, end),
    )


def _avg(value: object) -> float | None:
    return None if value is None else round(float(value), 2)  # type: ignore[arg-type]
