"""GraphQL types of worklists and the balancer's runs."""

from __future__ import annotations

from datetime import datetime

import strawberry

from api.context import Info
from api.enums import Priority
from api.exams.types import Exam
from domain import models as m


@strawberry.type(description="One study on a worklist, in reading order.")
class WorklistItem:
    position: int | None = strawberry.field(description="0 = read next.")
    priority: Priority
    due_at: datetime | None
    reason: str = strawberry.field(description="Why this reader: eligible set, urgency, load.")
    pinned: bool
    opened: bool
    assigned_at: datetime
    exam: Exam


@strawberry.type(description="One term of the balancer's objective.")
class ObjectiveTerm:
    name: str
    value: float


@strawberry.type(description="A study nobody eligible can take now, and why.")
class UnassignableStudy:
    reason: str
    exam_id: strawberry.Private[int]

    @strawberry.field
    async def exam(self, info: Info) -> Exam | None:
        row = await info.context.loaders.by_id(m.Exam).load(self.exam_id)
        return None if row is None else Exam.from_model(row)


@strawberry.type(description="One committed re-plan.")
class BalancerRun:
    started_at: datetime
    duration_ms: float
    trigger: str = strawberry.field(description="The events that asked for it.")
    formulation: str
    objective: list[ObjectiveTerm]
    unassignable: list[UnassignableStudy]
    assigned: int
    moved: int = strawberry.field(description="Studies that changed reader in this run.")

    @classmethod
    def from_model(cls, row: m.BalancerRun) -> BalancerRun:
        return cls(started_at=row.started_at, duration_ms=row.duration_ms, trigger=row.trigger,
                   formulation=row.formulation,
                   objective=[ObjectiveTerm(name=k, value=float(v))
                              for k, v in sorted(row.objective.items())],
                   unassignable=[UnassignableStudy(reason=u["reason"], exam_id=int(u["exam_id"]))
                                 for u in row.unassignable],
                   assigned=row.assigned, moved=row.moved)


@strawberry.type(description="What the balancer did last.")
class BalancerStatus:
    last_run: BalancerRun | None
    recent_runs: list[BalancerRun] = strawberry.field(description="The last ten, newest first.")

