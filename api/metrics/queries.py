"""The metrics query."""

from __future__ import annotations

from datetime import datetime, timedelta

import strawberry

from api.arguments import FromArgument
from api.context import Info
from api.metrics.types import Metrics
from domain.errors import FieldIssue, ValidationFailed
from domain.metrics import department_metrics

MAX_PERIOD = timedelta(days=366)


@strawberry.type
class MetricsQueries:
    @strawberry.field(description="Key metrics for [from, to), at most a year.")
    async def metrics(self, info: Info, from_: FromArgument, to: datetime) -> Metrics:
        if not from_ < to <= from_ + MAX_PERIOD:
            raise ValidationFailed([FieldIssue("to", "INVALID_RANGE",
                                               "must be after `from` and within a year of it")])
        result = await info.context.db.read(lambda s: department_metrics(s, from_, to))
        return Metrics.from_domain(result)
