"""GraphQL types of the department's key metrics (definitions: docs/metrics.md)."""

from __future__ import annotations

from datetime import datetime

import strawberry

from api.enums import CriticalLevel, Modality, Priority
from domain import enums
from domain import metrics as d

TurnaroundStage = enums.TurnaroundStage  # marked in place by strawberry.enum (see api.enums)
strawberry.enum(
    TurnaroundStage,
    description="A measured stretch of an exam's life, from first entering one status to "
    "first entering a later one (READY_TO_FINAL: study available to final report).",
)


@strawberry.type(description="Count, median and 90th percentile (nearest rank) of durations.")
class Distribution:
    count: int
    median: float | None
    p90: float | None

    @classmethod
    def from_domain(cls, value: d.Distribution) -> Distribution:
        return cls(count=value.count, median=value.median_minutes, p90=value.p90_minutes)


@strawberry.type(
    description="Turnaround of one stage for one priority, in minutes, over the "
    "exams whose stage ended in the period."
)
class StageTurnaround:
    stage: TurnaroundStage
    priority: Priority
    minutes: Distribution
    target_breaches: int | None = strawberry.field(
        description="Exams over the catalogue's turnaround target for their procedure, "
        "priority and patient class; null for a stage the catalogue sets no target for (only "
        "READY_TO_FINAL has one)."
    )
    target_breach_rate: float | None = strawberry.field(
        description="targetBreaches / minutes.count."
    )

    @classmethod
    def from_domain(cls, v: d.StageTurnaround) -> StageTurnaround:
        return cls(
            stage=v.stage,
            priority=v.priority,
            minutes=Distribution.from_domain(v.minutes),
            target_breaches=v.target_breaches,
            target_breach_rate=v.target_breach_rate,
        )


@strawberry.type(
    description="What became of the appointments booked to start in the period "
    "(walk-ins have none and are not counted)."
)
class Attendance:
    appointments: int = strawberry.field(
        description="Booked appointments starting in the period, except those moved to "
        "another slot (the new slot counts)."
    )
    arrivals: int
    no_shows: int
    no_show_rate: float | None = strawberry.field(description="noShows / (noShows + arrivals).")
    cancellations: int
    late_cancellations: int = strawberry.field(
        description="Cancelled less than lateCancellationWindowHours before the start, or after it."
    )
    late_cancellation_rate: float | None = strawberry.field(
        description="lateCancellations / appointments."
    )
    late_cancellation_window_hours: float = strawberry.field(
        description="RADFLOW_LATE_CANCELLATION_HOURS."
    )

    @classmethod
    def from_domain(cls, v: d.Attendance) -> Attendance:
        return cls(
            appointments=v.appointments,
            arrivals=v.arrivals,
            no_shows=v.no_shows,
            no_show_rate=v.no_show_rate,
            cancellations=v.cancellations,
            late_cancellations=v.late_cancellations,
            late_cancellation_rate=v.late_cancellation_rate,
            late_cancellation_window_hours=v.late_cancellation_window.total_seconds() / 3600,
        )


@strawberry.type(
    description="How promptly the results of one finding category communicated "
    "in the period were acknowledged."
)
class CriticalResultTimeliness:
    level: CriticalLevel
    window_minutes: float = strawberry.field(
        description="The category's acknowledgement window, from communication."
    )
    communicated: int
    acknowledged_in_time: int
    acknowledged_late: int
    unacknowledged: int = strawberry.field(
        description="Never acknowledged and the window is over: misses."
    )
    awaiting: int = strawberry.field(
        description="Not acknowledged yet, window still open: not counted yet."
    )
    in_time_rate: float | None = strawberry.field(
        description="acknowledgedInTime / (communicated - awaiting): misses count against it."
    )
    minutes_to_acknowledge: Distribution = strawberry.field(
        description="Over the acknowledged results, in time or late."
    )

    @classmethod
    def from_domain(cls, v: d.CriticalResultTimeliness) -> CriticalResultTimeliness:
        return cls(
            level=v.level,
            window_minutes=v.window.total_seconds() / 60,
            communicated=v.communicated,
            acknowledged_in_time=v.acknowledged_in_time,
            acknowledged_late=v.acknowledged_late,
            unacknowledged=v.unacknowledged,
            awaiting=v.awaiting,
            in_time_rate=v.in_time_rate,
            minutes_to_acknowledge=Distribution.from_domain(v.minutes_to_acknowledge),
        )


@strawberry.type(description="Open, booked and used minutes of a scanner.")
class ModalityUtilization:
    resource_code: str
    open_minutes: float
    booked_minutes: float
    used_minutes: float


@strawberry.type(
    description="The follow-ups due in the period (their due date's midnight, UTC, in it), at "
    "the recommending exam's site, of the recommended modality; cancelled ones not counted."
)
class FollowUpCompletion:
    due: int
    completed: int = strawberry.field(
        description="Done by now (the matched exam final, or by hand)."
    )
    overdue: int = strawberry.field(description="Open, and the due date has passed.")
    awaiting: int = strawberry.field(description="Open, not due yet.")
    completion_rate: float | None = strawberry.field(
        description="completed / (completed + overdue)."
    )
    days_to_completion: Distribution = strawberry.field(
        description="Days from the recommendation to its completion, over the completed ones."
    )

    @classmethod
    def from_domain(cls, v: d.FollowUpCompletion) -> FollowUpCompletion:
        return cls(
            due=v.due,
            completed=v.completed,
            overdue=v.overdue,
            awaiting=v.awaiting,
            completion_rate=v.completion_rate,
            days_to_completion=Distribution.from_domain(v.days_to_completion),
        )


@strawberry.type(
    description="The department's key metrics for a period, optionally for one "
    "site and one modality (the exam's)."
)
class Metrics:
    start: datetime
    end: datetime
    site_code: str | None
    modality: Modality | None
    turnaround: list[StageTurnaround]
    attendance: Attendance
    no_show_rate: float | None = strawberry.field(
        description="No-shows / (no-shows + arrivals) of booked appointments.",
        deprecation_reason="Use attendance.noShowRate.",
    )
    repeat_rate: float | None = strawberry.field(
        description="Repeated acquisitions / acquisition attempts."
    )
    critical_results: list[CriticalResultTimeliness] = strawberry.field(
        description="Per finding category: CRITICAL, URGENT, UNEXPECTED."
    )
    critical_acknowledgement_minutes: Distribution = strawberry.field(
        description="Minutes to acknowledge, over acknowledged CRITICAL and URGENT results.",
        deprecation_reason="Use criticalResults (per category, with the misses).",
    )
    referrer_satisfaction: float | None = strawberry.field(description="Mean score, 1-5.")
    patient_satisfaction: float | None = strawberry.field(description="Mean score, 1-5.")
    order_to_appointment_lead_days: Distribution
    utilization: list[ModalityUtilization]
    follow_ups: FollowUpCompletion

    @classmethod
    def from_domain(cls, v: d.DepartmentMetrics, *, site_code: str | None) -> Metrics:
        return cls(
            start=v.scope.start,
            end=v.scope.end,
            site_code=site_code,
            modality=v.scope.modality,
            turnaround=[StageTurnaround.from_domain(t) for t in v.turnaround],
            attendance=Attendance.from_domain(v.attendance),
            no_show_rate=v.attendance.no_show_rate,
            repeat_rate=v.repeat_rate,
            critical_results=[CriticalResultTimeliness.from_domain(c) for c in v.critical_results],
            critical_acknowledgement_minutes=Distribution.from_domain(v.critical_ack_minutes),
            referrer_satisfaction=v.referrer_satisfaction,
            patient_satisfaction=v.patient_satisfaction,
            order_to_appointment_lead_days=Distribution.from_domain(
                v.order_to_appointment_lead_days
            ),
            utilization=[
                ModalityUtilization(
                    resource_code=u.resource_code,
                    open_minutes=u.open_minutes,
                    booked_minutes=u.booked_minutes,
                    used_minutes=u.used_minutes,
                )
                for u in v.utilization
            ],
            follow_ups=FollowUpCompletion.from_domain(v.follow_ups),
        )
