"""Repeats, satisfaction, scheduling lead time and scanner utilization, for a scope."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlmodel import col

from domain.enums import Respondent
from domain.metrics.common import Distribution, Scope, distribution, minutes_between, rate
from domain.models import (
    Acquisition,
    Appointment,
    Exam,
    ModalityResource,
    OpeningHours,
    SatisfactionSurvey,
    Site,
)


@dataclass(frozen=True)
class ModalityUtilization:
    resource_code: str
    open_minutes: float
    booked_minutes: float
    used_minutes: float


def repeat_rate(session: Session, scope: Scope) -> float | None:
    """Repeated acquisitions / acquisition attempts started in the period."""
    attempts, repeats = session.execute(
        sa.select(sa.func.count(), sa.func.count(col(Acquisition.repeat_reason))).where(
            scope.covers(col(Acquisition.started_at)), scope.covers_exam(col(Acquisition.exam_id))
        )
    ).one()
    return rate(repeats, attempts)


def satisfaction(session: Session, scope: Scope) -> dict[Respondent, float]:
    """Mean score per respondent kind, of the surveys submitted in the period."""
    return {
        respondent: round(float(mean), 2)
        for respondent, mean in session.execute(
            sa.select(
                col(SatisfactionSurvey.respondent), sa.func.avg(col(SatisfactionSurvey.score))
            )
            .where(
                scope.covers(col(SatisfactionSurvey.submitted_at)),
                scope.covers_exam(col(SatisfactionSurvey.exam_id)),
            )
            .group_by(col(SatisfactionSurvey.respondent))
        )
        if mean is not None
    }


def lead_days(session: Session, scope: Scope) -> Distribution:
    """Days from the order to the first appointment, of the exams ordered in the period."""
    leads = session.execute(
        sa.select(col(Exam.ordered_at), sa.func.min(col(Appointment.starts_at)))
        .join(Appointment, col(Appointment.exam_id) == col(Exam.id))
        .where(scope.covers(col(Exam.ordered_at)), scope.covers_exam(col(Exam.id)))
        .group_by(col(Exam.id), col(Exam.ordered_at))
    ).all()
    return distribution(minutes_between(a, b) / 1440 for a, b in leads)


def utilization(session: Session, scope: Scope) -> list[ModalityUtilization]:
    """Open, booked and used minutes of each scanner of the scope's site and modality."""
    from domain.services.scheduling import _candidate_starts  # the same calendar as booking
    from domain.sql_repositories import SqlDepartment
    from domain.types import pk

    start, end = scope.start, scope.end
    resources = (
        sa.select(ModalityResource, Site)
        .join(Site, col(Site.id) == col(ModalityResource.site_id))
        .order_by(col(ModalityResource.code))
    )
    if scope.site_id is not None:
        resources = resources.where(col(ModalityResource.site_id) == scope.site_id)
    if scope.modality is not None:
        resources = resources.where(col(ModalityResource.modality) == scope.modality)
    result = []
    for resource, site in session.execute(resources):
        has_hours = session.scalar(
            sa.select(sa.func.count())
            .select_from(OpeningHours)
            .where(col(OpeningHours.resource_id) == resource.id)
        )
        hours = SqlDepartment(session).opening_hours(pk(resource))
        open_minutes = (
            len(_candidate_starts(hours, resource, site, start, end, 1)) * resource.slot_minutes
            if has_hours
            else 0
        )
        booked = session.execute(
            sa.select(col(Appointment.starts_at), col(Appointment.ends_at)).where(
                col(Appointment.resource_id) == resource.id,
                scope.covers(col(Appointment.starts_at)),
                col(Appointment.status).not_in(["CANCELLED", "RESCHEDULED"]),
            )
        ).all()
        used = session.execute(
            sa.select(col(Acquisition.started_at), col(Acquisition.ended_at)).where(
                col(Acquisition.resource_id) == resource.id,
                scope.covers(col(Acquisition.started_at)),
                col(Acquisition.ended_at).is_not(None),
            )
        ).all()
        result.append(
            ModalityUtilization(
                resource.code,
                float(open_minutes),
                round(sum(minutes_between(a, b) for a, b in booked), 1),
                round(sum(minutes_between(a, b) for a, b in used if b is not None), 1),
            )
        )
    return result
