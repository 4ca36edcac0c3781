"""GraphQL types of the department's key metrics."""

from __future__ import annotations

from datetime import datetime

import strawberry

from domain import metrics as d


@strawberry.type(description="Median and 90th percentile of a set of durations.")
class Distribution:
    count: int
    median: float | None
    p90: float | None

    @classmethod
    def from_domain(cls, value: d.Distribution) -> Distribution:
        return cls(count=value.count, median=value.median_minutes, p90=value.p90_minutes)


@strawberry.type(description="Turnaround of one stage for one modality and priority, minutes.")
class StageTurnaround:
    stage: str = strawberry.field(description="e.g. READY_TO_FINAL, ORDER_TO_SCHEDULED.")
    modality: str
    priority: str
    minutes: Distribution


@strawberry.type(description="Open, booked and used minutes of a scanner.")
class ModalityUtilization:
    resource_code: str
    open_minutes: float
    booked_minutes: float
    used_minutes: float


@strawberry.type(description="The department's key metrics for a period.")
class Metrics:
    start: datetime
    end: datetime
    turnaround: list[StageTurnaround]
    no_show_rate: float | None = strawberry.field(
        description="No-shows / (no-shows + arrivals).")
    repeat_rate: float | None = strawberry.field(
        description="Repeated acquisitions / acquisition attempts.")
    critical_acknowledgement_minutes: Distribution
    referrer_satisfaction: float | None = strawberry.field(description="Mean score, 1-5.")
    patient_satisfaction: float | None = strawberry.field(description="Mean score, 1-5.")
    order_to_appointment_lead_days: Distribution
    utilization: list[ModalityUtilization]

    @classmethod
    def from_domain(cls, v: d.DepartmentMetrics) -> Metrics:
        return cls(
            start=v.start, end=v.end,
            turnaround=[StageTurnaround(stage=t.stage, modality=t.modality, priority=t.priority,
                                        minutes=Distribution.from_domain(t.minutes))
                        for t in v.turnaround],
            no_show_rate=v.no_show_rate, repeat_rate=v.repeat_rate,
            critical_acknowledgement_minutes=Distribution.from_domain(v.critical_ack_minutes),
            referrer_satisfaction=v.referrer_satisfaction,
            patient_satisfaction=v.patient_satisfaction,
            order_to_appointment_lead_days=Distribution.from_domain(
                v.order_to_appointment_lead_days),
            utilization=[ModalityUtilization(resource_code=u.resource_code,
                                             open_minutes=u.open_minutes,
                                             booked_minutes=u.booked_minutes,
                                             used_minutes=u.used_minutes)
                         for u in v.utilization],
        )
