"""The metrics query."""

from __future__ import annotations

from datetime import datetime, timedelta

import strawberry
from sqlalchemy.orm import Session

from api.arguments import FromArgument
from api.context import Info
from api.enums import Modality
from api.metrics.types import Metrics
from domain.errors import FieldIssue, IssueCode, ValidationFailed
from domain.metrics import DepartmentMetrics, department_metrics, scope_for

MAX_PERIOD = timedelta(days=366)


@strawberry.type
class MetricsQueries:
    @strawberry.field(
        description="Key metrics for [from, to), at most a year; optionally only "
        "the exams of one site (by code) and one modality."
    )
    async def metrics(
        self,
        info: Info,
        from_: FromArgument,
        to: datetime,
        site_code: str | None = None,
        modality: Modality | None = None,
    ) -> Metrics:
        if not from_ < to <= from_ + MAX_PERIOD:
            raise ValidationFailed(
                [
                    FieldIssue(
                        "to",
                        IssueCode.INVALID_RANGE,
                        "must be after `from` and within a year of it",
                    )
                ]
            )
        db, settings = info.context.db, info.context.settings
        window = timedelta(hours=settings.late_cancellation_hours)

        def compute(session: Session) -> DepartmentMetrics:
            scope = scope_for(session, start=from_, end=to, site_code=site_code, modality=modality)
            return department_metrics(
                session,
                scope,
                now=db.clock(),
                late_cancellation_window=window,
                result_windows=settings.result_windows,
            )

        return Metrics.from_domain(await db.read(compute), site_code=site_code)
