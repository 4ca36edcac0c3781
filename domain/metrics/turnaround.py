"""Turnaround per stage and priority: median, p90 and the share breaching the catalogue's target.

SQL finds the exams whose stage ended in the period and, per exam, the first time it entered
each status (MIN ... GROUP BY); the durations, their percentiles and the comparison with the
target are taken in Python, because SQLite has neither interval arithmetic nor percentiles and
the numbers must be the same on both backends.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlmodel import col

from domain.catalog_data import TURNAROUND_MINUTES
from domain.enums import ExamStatus, Priority, TurnaroundStage
from domain.metrics.common import Distribution, Scope, distribution, minutes_between, rate
from domain.models import Exam, ExamStatusChange, TurnaroundTarget

S, T = ExamStatus, TurnaroundStage
# Each stage runs from the first time an exam entered one status to the first time it entered
# the other.
STAGES: dict[TurnaroundStage, tuple[ExamStatus, ExamStatus]] = {
    T.ORDER_TO_SCHEDULED: (S.ORDERED, S.SCHEDULED),
    T.CHECK_IN_TO_ACQUIRED: (S.CHECKED_IN, S.ACQUIRED),
    T.ACQUIRED_TO_READY: (S.ACQUIRED, S.READY_FOR_READ),
    T.READY_TO_OPENED: (S.READY_FOR_READ, S.IN_INTERPRETATION),
    T.READY_TO_FINAL: (S.READY_FOR_READ, S.FINAL),
    T.FINAL_TO_COMMUNICATED: (S.FINAL, S.COMMUNICATED),
    T.ORDER_TO_FINAL: (S.ORDERED, S.FINAL),
}
# The catalogue's targets (`TurnaroundTarget`) run from the study's availability to the final
# report, so only that stage is held against them.
TARGETED = frozenset({T.READY_TO_FINAL})


@dataclass(frozen=True)
class StageTurnaround:
    """One stage's durations for one priority; breaches only for a stage with a target."""

    stage: TurnaroundStage
    priority: Priority
    minutes: Distribution
    target_breaches: int | None
    target_breach_rate: float | None


def turnaround(session: Session, scope: Scope) -> list[StageTurnaround]:
    """Every stage that ended in the period, per priority, for exams in the scope."""
    history = ExamStatusChange
    finished = sa.select(col(history.exam_id)).where(
        col(history.to_status).in_({end for _, end in STAGES.values()}),
        scope.covers(col(history.at)),
        scope.covers_exam(col(history.exam_id)),
    )
    firsts = session.execute(
        sa.select(col(history.exam_id), col(history.to_status), sa.func.min(col(history.at)))
        .where(
            col(history.exam_id).in_(finished),
            col(history.to_status).in_({s for pair in STAGES.values() for s in pair}),
        )
        .group_by(col(history.exam_id), col(history.to_status))
    ).all()
    target = TurnaroundTarget
    exams = session.execute(
        sa.select(col(Exam.id), col(Exam.priority), col(Exam.patient_class), col(target.minutes))
        .outerjoin(
            target,
            sa.and_(
                col(target.procedure_id) == col(Exam.procedure_id),
                col(target.priority) == col(Exam.priority),
                col(target.patient_class) == col(Exam.patient_class),
            ),
        )
        .where(col(Exam.id).in_(finished))
    ).all()
    entered: dict[int | None, dict[ExamStatus, datetime]] = defaultdict(dict)
    for changed, status, at in firsts:
        entered[changed][status] = at
    samples: dict[tuple[TurnaroundStage, Priority], list[tuple[float, int]]] = defaultdict(list)
    for exam_id, priority, patient_class, minutes in exams:
        times = entered[exam_id]
        # A procedure without its own targets is due by the catalogue's, as the service says.
        target_minutes = (
            minutes if minutes is not None else TURNAROUND_MINUTES[(priority, patient_class)]
        )
        for stage, (begin, end) in STAGES.items():
            if (
                begin in times
                and end in times
                and times[begin] <= times[end]
                and scope.start <= times[end] < scope.end
            ):
                samples[(stage, priority)].append(
                    (minutes_between(times[begin], times[end]), target_minutes)
                )
    result = []
    for stage in TurnaroundStage:
        for priority in Priority:
            values = samples.get((stage, priority))
            if not values:
                continue
            breaches = sum(1 for took, goal in values if took > goal) if stage in TARGETED else None
            result.append(
                StageTurnaround(
                    stage=stage,
                    priority=priority,
                    minutes=distribution(took for took, _ in values),
                    target_breaches=breaches,
                    target_breach_rate=None if breaches is None else rate(breaches, len(values)),
                )
            )
    return result
