"""Department metrics, computed from the exams' status history and related records."""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

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
        sa.select(ExamStatusChange.exam_id, ExamStatusChange.to_status, ExamStatusChange.at,
                  Procedure.modality, Exam.priority)
        .join(Exam, Exam.id == ExamStatusChange.exam_id)
        .join(Procedure, Procedure.id == Exam.procedure_id)
        .where(Exam.id.in_(sa.select(ExamStatusChange.exam_id).where(  # type: ignore[union-attr]
            ExamStatusChange.at >= start, ExamStatusChange.at < end)))  # type: ignore[operator]
        .order_by(ExamStatusChange.exam_id, ExamStatusChange.id)
    ).all()
    # First time each exam entered each status: the stage clocks start and stop there.
    entered: dict[int, dict[ExamStatus, datetime]] = defaultdict(dict)
    keys: dict[int, tuple[str, str]] = {}
    for exam_id, status, at, modality, priority in rows:
        entered[exam_id].setdefault(status, at)
        keys[exam_id] = (modality.value, priority.value)
    samples: dict[tuple[str, str, str], list[float]] = defaultdict(list)
    for exam_id, times in entered.items():
        modality, priority = keys[exam_id]
        for stage, a, b in STAGES:
            if a in times and b in times and start <= times[b] < end:
                samples[(stage, modality, priority)].append(_minutes(times[a], times[b]))
    return [StageTurnaround(stage, modality, priority, distribution(values))
            for (stage, modality, priority), values in sorted(samples.items())]


def _rate(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def _utilization(session: Session, start: datetime, end: datetime) -> list[ModalityUtilization]:
    from domain.services.scheduling import _candidate_starts  # the same calendar as booking

    result = []
    for resource, site in session.execute(
            sa.select(ModalityResource, Site).join(Site, Site.id == ModalityResource.site_id)
            .order_by(ModalityResource.code)):
        has_hours = session.scalar(sa.select(sa.func.count()).select_from(OpeningHours).where(
            OpeningHours.resource_id == resource.id))
        open_minutes = (len(_candidate_starts(session, resource, site, start, end, 1))
                        * resource.slot_minutes) if has_hours else 0
        booked = session.execute(sa.select(Appointment.starts_at, Appointment.ends_at).where(
            Appointment.resource_id == resource.id, Appointment.starts_at >= start,
            Appointment.starts_at < end,
            Appointment.status.not_in(["CANCELLED", "RESCHEDULED"]))).all()  # type: ignore[attr-defined]
        used = session.execute(sa.select(Acquisition.started_at, Acquisition.ended_at).where(
            Acquisition.resource_id == resource.id, Acquisition.started_at >= start,
            Acquisition.started_at < end, Acquisition.ended_at.is_not(None))).all()  # type: ignore[union-attr]
        result.append(ModalityUtilization(
            resource.code, float(open_minutes), round(sum(_minutes(a, b) for a, b in booked), 1),
            round(sum(_minutes(a, b) for a, b in used), 1)))
    return result


def department_metrics(session: Session, start: datetime, end: datetime) -> DepartmentMetrics:
    """Every key metric for the period [start, end)."""
    in_period = (ExamStatusChange.at >= start) & (ExamStatusChange.at < end)  # type: ignore[operator]
    entered = dict(session.execute(
        sa.select(ExamStatusChange.to_status, sa.func.count(sa.distinct(ExamStatusChange.exam_id)))
        .where(in_period).group_by(ExamStatusChange.to_status)).all())
    no_shows = entered.get(ExamStatus.NO_SHOW, 0)
    arrived = entered.get(ExamStatus.CHECKED_IN, 0)
    attempts = session.execute(sa.select(
        sa.func.count(), sa.func.count(Acquisition.repeat_reason)).where(
        Acquisition.started_at >= start, Acquisition.started_at < end)).one()  # type: ignore[operator]
    acks = session.execute(sa.select(ResultCommunication.notified_at,
                                     ResultCommunication.acknowledged_at).where(
        ResultCommunication.critical_level.in_([CriticalLevel.CRITICAL, CriticalLevel.URGENT]),  # type: ignore[attr-defined]
        ResultCommunication.notified_at >= start, ResultCommunication.notified_at < end,  # type: ignore[operator]
        ResultCommunication.acknowledged_at.is_not(None))).all()  # type: ignore[union-attr]
    surveys = dict(session.execute(
        sa.select(SatisfactionSurvey.respondent, sa.func.avg(SatisfactionSurvey.score)).where(
            SatisfactionSurvey.submitted_at >= start, SatisfactionSurvey.submitted_at < end)  # type: ignore[operator]
        .group_by(SatisfactionSurvey.respondent)).all())
    leads = session.execute(sa.select(Exam.ordered_at, sa.func.min(Appointment.starts_at))
                            .join(Appointment, Appointment.exam_id == Exam.id)
                            .where(Exam.ordered_at >= start, Exam.ordered_at < end)  # type: ignore[operator]
                            .group_by(Exam.id, Exam.ordered_at)).all()
    return DepartmentMetrics(
        start=start, end=end, turnaround=_turnaround(session, start, end),
        no_show_rate=_rate(no_shows, no_shows + arrived),
        repeat_rate=_rate(attempts[1], attempts[0]),
        critical_ack_minutes=distribution(_minutes(a, b) for a, b in acks),
        referrer_satisfaction=_avg(surveys.get("REFERRER")),
        patient_satisfaction=_avg(surveys.get("PATIENT")),
        order_to_appointment_lead_days=distribution(_minutes(a, b) / 1440 for a, b in leads),
        utilization=_utilization(session, start, end),
    )


def _avg(value: object) -> float | None:
    return None if value is None else round(float(value), 2)  # type: ignore[arg-type]
