"""What subscribers receive: one type per subscription.

An event's own fields describe what happened as it happened (the status it moved to, the
version it left the exam at), so a replayed event reads as it did live; the object fields
(`exam`, `radiologist`, `run`, `ruleSet`) resolve the object as it is when delivered.
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import Enum
from typing import TypedDict

import strawberry

from api.context import Info
from api.enums import CriticalLevel, ExamStatus, ExamStep
from api.exams.types import Exam
from api.live.events import LiveEvent
from api.people.types import Radiologist
from api.rules.queries import rule_sets
from api.rules.types import RuleSet
from api.worklists.types import BalancerRun
from domain import events as domain_events
from domain import models as m
from domain.lifecycle import step_of
from domain.outbox import OTHER, topic_of_type


def _published_events() -> dict[str, str]:
    """Every domain event a subscription can deliver, by its enum name (EXAM_ORDERED)."""
    classes = [
        c
        for c in vars(domain_events).values()
        if isinstance(c, type)
        and issubclass(c, domain_events.DomainEvent)
        and c not in (domain_events.DomainEvent, domain_events.ExamStatusChanged)
    ]
    delivered = [c for c in classes if topic_of_type(c) != OTHER]
    return {re.sub(r"(?<!^)(?=[A-Z])", "_", c.__name__).upper(): c.__name__ for c in delivered}


# Its members come from the registry of events, which mypy cannot list (Enum() with a computed
# mapping); it still knows LiveEventType as an enum class.
LiveEventType = Enum("LiveEventType", _published_events())  # type: ignore[misc]
strawberry.enum(LiveEventType, description="The domain event a live update reports.")


@strawberry.interface(description="Something that happened in the department, as it happened.")
class LiveUpdate:
    event_id: int = strawberry.field(
        description="Monotonic across every subscription; pass the last one you received as "
        "`after` when you subscribe again and nothing in between is lost."
    )
    type: LiveEventType = strawberry.field(
        description="The domain event, e.g. REPORT_SIGNED_FINAL."
    )
    at: datetime
    actor: str = strawberry.field(description="Who caused it (`balancer` for re-plans).")


class _Common(TypedDict):
    event_id: int
    type: LiveEventType
    at: datetime
    actor: str


def _common(event: LiveEvent) -> _Common:
    return {
        "event_id": event.id,
        "type": LiveEventType(event.type),
        "at": event.at,
        "actor": str(event.payload.get("actor", "")),
    }


async def _exam(info: Info, exam_id: int | None) -> Exam | None:
    if exam_id is None:
        return None
    row = await info.context.loaders.by_id(m.Exam).load(exam_id)
    return None if row is None else Exam.from_model(row)


@strawberry.type(
    description="An exam changed status. Its fields are the change as it "
    "happened, also when replayed; `exam` is the exam as it is now."
)
class ExamStatusEvent(LiveUpdate):
    step: ExamStep = strawberry.field(description="What was done (as in the exam's history).")
    accession_number: str
    from_status: ExamStatus | None
    to_status: ExamStatus = strawberry.field(description="The status the step left it in.")
    version: int | None = strawberry.field(
        description="The exam's version right after this step (null for events recorded "
        "before versions were kept in events)."
    )
    reason: str | None
    exam_pk: strawberry.Private[int]

    @strawberry.field(
        description="The exam as it is when the event is delivered (for a "
        "replayed event, today's state, not the state at `at`)."
    )
    async def exam(self, info: Info) -> Exam | None:
        return await _exam(info, self.exam_pk)

    @classmethod
    def from_event(cls, event: LiveEvent) -> ExamStatusEvent:
        p = event.payload
        version = p.get("exam_version")
        return cls(
            **_common(event),
            step=step_of(event.type),
            accession_number=p["accession_number"],
            from_status=ExamStatus(p["from_status"]) if p["from_status"] else None,
            to_status=ExamStatus(p["to_status"]),
            reason=p.get("reason"),
            version=int(version) if version is not None else None,
            exam_pk=int(p["exam_id"]),
        )


@strawberry.enum(description="How a radiologist's worklist changed.")
class WorklistChange(Enum):
    ADDED = "ADDED"
    REMOVED = "REMOVED"
    REORDERED = "REORDERED"
    STRANDED = "STRANDED"


@strawberry.type(
    description="A study came onto or left this radiologist's worklist, or the "
    "worklist's order changed."
)
class WorklistEvent(LiveUpdate):
    change: WorklistChange
    reason: str | None = strawberry.field(description="Why a study moved (assignments only).")
    radiologist_pk: strawberry.Private[int]
    exam_pk: strawberry.Private[int | None]

    @strawberry.field(description="The radiologist whose worklist changed.")
    async def radiologist(self, info: Info) -> Radiologist | None:
        row = await info.context.loaders.by_id(m.Radiologist).load(self.radiologist_pk)
        return None if row is None else Radiologist.from_model(row)

    @strawberry.field(description="The study added or removed (null for a reorder).")
    async def exam(self, info: Info) -> Exam | None:
        return await _exam(info, self.exam_pk)

    @classmethod
    def from_event(cls, event: LiveEvent, radiologist_id: int) -> WorklistEvent:
        p = event.payload
        if event.type == "WorklistReordered":
            change, exam_pk, reason = WorklistChange.REORDERED, None, None
        elif event.type == "ReadStranded":  # the reader left with this study open
            change, exam_pk, reason = (WorklistChange.STRANDED, int(p["exam_id"]), p.get("reason"))
        else:
            change = (
                WorklistChange.ADDED
                if p["radiologist_id"] == radiologist_id
                else WorklistChange.REMOVED
            )
            exam_pk, reason = int(p["exam_id"]), p.get("reason")
        return cls(
            **_common(event),
            change=change,
            reason=reason,
            radiologist_pk=radiologist_id,
            exam_pk=exam_pk,
        )


@strawberry.type(
    description="A critical or urgent result was communicated and awaits "
    "acknowledgement, or was escalated because nobody acknowledged it in time."
)
class CriticalResultEvent(LiveUpdate):
    escalated: bool
    critical_level: CriticalLevel | None
    escalation_count: int = strawberry.field(
        description="How many times the result has been escalated (0: just communicated)."
    )
    recipient_kind: str | None = strawberry.field(
        description="Who an escalation calls: `referrer`, `covering` (the physician covering "
        "for the referrer) or `supervisor` (the radiology supervisor); null when not escalated."
    )
    exam_pk: strawberry.Private[int]

    @strawberry.field(description="The exam whose result it is.")
    async def exam(self, info: Info) -> Exam | None:
        return await _exam(info, self.exam_pk)

    @classmethod
    def from_event(cls, event: LiveEvent) -> CriticalResultEvent:
        p = event.payload
        level = p.get("critical_level")
        return cls(
            **_common(event),
            escalated=event.type == "CriticalResultEscalated",
            critical_level=CriticalLevel(level) if level else None,
            escalation_count=int(p.get("escalation_count", 0)),
            recipient_kind=p.get("recipient_kind"),
            exam_pk=int(p["exam_id"]),
        )


@strawberry.type(description="The balancer committed a re-plan.")
class BalancerRanEvent(LiveUpdate):
    duration_ms: float
    moved: int
    assigned: int
    unassignable: int
    run_pk: strawberry.Private[int]

    @strawberry.field(description="The committed run.")
    async def run(self, info: Info) -> BalancerRun | None:
        row = await info.context.loaders.by_id(m.BalancerRun).load(self.run_pk)
        return None if row is None else BalancerRun.from_model(row)

    @classmethod
    def from_event(cls, event: LiveEvent) -> BalancerRanEvent:
        p = event.payload
        return cls(
            **_common(event),
            duration_ms=float(p["duration_ms"]),
            moved=int(p["moved"]),
            assigned=int(p["assigned"]),
            unassignable=int(p["unassignable"]),
            run_pk=int(p["run_id"]),
        )


@strawberry.type(description="A rule set version became the department's policy.")
class RuleSetActivatedEvent(LiveUpdate):
    version: int
    previous_version: int | None

    @strawberry.field(description="The rule set now in force.")
    async def rule_set(self, info: Info) -> RuleSet | None:
        found = await info.context.db.read(lambda s: rule_sets(s, self.version))
        return found[0] if found else None

    @classmethod
    def from_event(cls, event: LiveEvent) -> RuleSetActivatedEvent:
        p = event.payload
        return cls(
            **_common(event),
            version=int(p["version"]),
            previous_version=p.get("previous_version"),
        )
