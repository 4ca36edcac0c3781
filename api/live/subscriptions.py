"""The subscriptions: each reads its topic from the live machinery, filtered and resumable."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable
from typing import Annotated, TypeVar

import strawberry
from graphql import GraphQLError

from api.context import Info
from api.live.context import LiveContext
from api.live.events import LiveEvent
from api.live.inputs import ExamStatusFilter
from api.live.service import Live
from api.live.types import (
    BalancerRanEvent,
    CriticalResultEvent,
    ExamStatusEvent,
    RuleSetActivatedEvent,
    WorklistEvent,
)
from api.relay import decode_id
from domain import audit, outbox
from domain import models as m
from domain.enums import Role

T = TypeVar("T")
After = Annotated[
    int | None,
    strawberry.argument(
        description=(
            "Resume: first replay the events after this eventId (within the outbox retention), "
            "then continue live, with nothing missed and nothing twice. From before what the "
            "outbox still holds, the subscription ends with the error RESUME_TOO_OLD."
        )
    ),
]


def _live(info: Info) -> tuple[LiveContext, Live]:
    context = info.context
    if not isinstance(context, LiveContext) or context.live is None:
        raise GraphQLError("subscriptions are served over WebSocket (graphql-transport-ws)")
    return context, context.live


async def _stream(
    info: Info,
    topic: str,
    match: Callable[[LiveEvent], bool],
    after: int | None,
    convert: Callable[[LiveEvent], T],
) -> AsyncGenerator[T, None]:
    context, live = _live(info)
    async for event in live.events(topic, match, after):
        context.fresh_loaders()
        # Each event's selection is resolved in this task after the yield: it must know who
        # is watching, so a caller without PHI sees patients as every other path shows them.
        audit.current_trail.set(
            audit.Trail(
                actor=context.actor,
                client_address=None,
                operation=f"subscription {topic}",
                action=audit.AuditAction.READ,
            )
        )
        yield convert(event)


def _exam_status_match(f: ExamStatusFilter | None) -> Callable[[LiveEvent], bool]:
    if f is None:
        return lambda _: True
    exam = decode_id(f.exam_id, "Exam", field="filter.examId") if f.exam_id else None
    site = decode_id(f.site_id, "Site", field="filter.siteId") if f.site_id else None
    modality = f.modality.value if f.modality else None
    statuses = {s.value for s in f.status} if f.status else None
    return lambda e: (
        (exam is None or e.exam_id == exam)
        and (site is None or e.site_id == site)
        and (modality is None or e.modality == modality)
        and (statuses is None or e.status in statuses)
    )


@strawberry.type
class LiveSubscriptions:
    # Each resolver checks its arguments and returns the stream; an error here is a
    # graphql-transport-ws `error` for the operation (no `next`, no `complete`).
    @strawberry.subscription(
        description="Exams changing status, filtered by exam, site, "
        "modality and the status they moved to."
    )
    async def exam_status_changed(
        self, info: Info, filter: ExamStatusFilter | None = None, after: After = None
    ) -> AsyncGenerator[ExamStatusEvent, None]:
        _live(info)
        return _stream(
            info, outbox.EXAM_STATUS, _exam_status_match(filter), after, ExamStatusEvent.from_event
        )

    @strawberry.subscription(
        description="Studies added to or removed from a radiologist's "
        "worklist, and re-orderings of it."
    )
    async def worklist_changed(
        self, info: Info, radiologist_id: strawberry.ID, after: After = None
    ) -> AsyncGenerator[WorklistEvent, None]:
        context, _ = _live(info)
        reader = decode_id(radiologist_id, "Radiologist", field="radiologistId")
        if context.actor.role == Role.RADIOLOGIST:  # a reader follows their own list only
            row = await context.db.read(lambda s: s.get(m.Radiologist, reader))
            if row is None or row.code != context.actor.id:
                raise GraphQLError(
                    f"radiologist {radiologist_id} does not exist", extensions={"code": "NOT_FOUND"}
                )
        return _stream(
            info,
            outbox.WORKLIST,
            lambda e: reader in e.radiologist_ids,
            after,
            lambda e: WorklistEvent.from_event(e, reader),
        )

    @strawberry.subscription(
        description="Critical and urgent results awaiting "
        "acknowledgement, and escalations, at one site or all."
    )
    async def critical_result_raised(
        self, info: Info, site_id: strawberry.ID | None = None, after: After = None
    ) -> AsyncGenerator[CriticalResultEvent, None]:
        _live(info)
        site = decode_id(site_id, "Site", field="siteId") if site_id else None
        return _stream(
            info,
            outbox.CRITICAL_RESULT,
            lambda e: site is None or e.site_id == site,
            after,
            CriticalResultEvent.from_event,
        )

    @strawberry.subscription(description="Every re-plan the balancer commits.")
    async def balancer_ran(
        self, info: Info, after: After = None
    ) -> AsyncGenerator[BalancerRanEvent, None]:
        _live(info)
        return _stream(info, outbox.BALANCER, lambda _: True, after, BalancerRanEvent.from_event)

    @strawberry.subscription(description="Rule set activations.")
    async def rule_set_activated(
        self, info: Info, after: After = None
    ) -> AsyncGenerator[RuleSetActivatedEvent, None]:
        _live(info)
        return _stream(info, outbox.RULES, lambda _: True, after, RuleSetActivatedEvent.from_event)
