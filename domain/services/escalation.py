"""Escalation of critical results along a chain, run by the clock: a result nobody
acknowledged within its window, and a finding signed final but not communicated within it.

The chain: the ordering referrer, the physician covering for them (if one is named), then the
radiology supervisor. Each step is a notification by that person's channel, recorded on the
result (its latest step) and announced as a `CriticalResultEscalated` event.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

from domain import events as ev
from domain.enums import (
    CriticalLevel,
    NotificationChannel,
    NotificationStatus,
    NotificationTemplate,
)
from domain.lifecycle import Actor
from domain.models import Notification, Referrer, ResultCommunication
from domain.repositories import UnitOfWork
from domain.services.results import ACKNOWLEDGE_WITHIN, channel_of, window_of
from domain.types import pk


def escalation_chain(uow: UnitOfWork, referrer_id: int) -> list[tuple[str, int]]:
    """Who a critical result reaches, in order: the ordering referrer, the physician covering
    for them (if one is named), then the radiology supervisor; as (kind, id) pairs."""
    chain = [("referrer", referrer_id)]
    referrer = uow.department.get(Referrer, referrer_id)
    if referrer is not None and referrer.covered_by_id is not None:
        chain.append(("covering", referrer.covered_by_id))
    chain.append(("supervisor", 0))
    return chain


def _call(
    uow: UnitOfWork,
    actor: Actor,
    *,
    exam_id: int,
    referrer_id: int,
    step: int,
    escalation: int,
    level: CriticalLevel,
    communication: ResultCommunication | None,
    reason: str,
) -> None:
    """Queue the escalation's call to the `step`-th person of the chain (the last one for any
    later step) by that person's channel, record the step on the result, emit its event."""
    chain = escalation_chain(uow, referrer_id)
    kind, recipient_id = chain[min(step, len(chain) - 1)]
    # The covering physician is a referrer too (their contact is on their row); the
    # supervisor's line is a call through the department's webhook.
    recipient_kind = "supervisor" if kind == "supervisor" else "referrer"
    channel = (
        NotificationChannel.PHONE
        if kind == "supervisor"
        else channel_of(uow.department.get(Referrer, recipient_id))
    )
    payload: dict[str, object] = {
        "escalation": escalation,
        "criticalLevel": level.value,
        "recipient": kind,
        "reason": reason,
    }
    if communication is not None:
        payload["communicationId"] = pk(communication)
        communication.escalated_to_kind = recipient_kind
        communication.escalated_to_id = recipient_id or None
        communication.escalated_via = channel
    uow.append(
        Notification,
        {
            "exam_id": exam_id,
            "recipient_kind": recipient_kind,
            "recipient_id": recipient_id,
            "channel": channel,
            "template": NotificationTemplate.CRITICAL_RESULT_ESCALATION,
            "send_at": uow.now,
            "status": NotificationStatus.QUEUED,
            "created_at": uow.now,
            "payload": payload,
        },
    )
    uow.emit(
        ev.CriticalResultEscalated(
            at=uow.now,
            actor=actor.id,
            role=actor.role,
            exam_id=exam_id,
            communication_id=pk(communication) if communication is not None else None,
            critical_level=level.value,
            escalation_count=escalation,
            recipient_kind=kind,
            recipient_id=recipient_id or None,
        )
    )


def escalate_overdue_results(*, uow: UnitOfWork, actor: Actor) -> list[ResultCommunication]:
    """Escalate every result sent with a window (critical, urgent or unexpected significant)
    not acknowledged in it, one step along its chain (run by the clock); the next window is
    the one the result was communicated with."""
    overdue = uow.reports.overdue_communications(uow.now)
    for communication in overdue:
        window = window_of(communication) or ACKNOWLEDGE_WITHIN[communication.critical_level]
        communication.escalated_at = uow.now
        communication.escalation_count += 1
        communication.acknowledge_by = uow.now + window
        _call(
            uow,
            actor,
            exam_id=communication.exam_id,
            referrer_id=communication.referrer_id,
            step=communication.escalation_count,  # step 0 was the result's own call
            escalation=communication.escalation_count,
            level=communication.critical_level,
            communication=communication,
            reason="not acknowledged",
        )
    return overdue


def escalate_uncommunicated_results(
    *,
    uow: UnitOfWork,
    actor: Actor,
    windows: Mapping[CriticalLevel, timedelta] = ACKNOWLEDGE_WITHIN,
) -> list[int]:
    """Escalate every critical or urgent finding signed final whose result was not
    communicated within its window (counted from signing, then from the last escalation):
    the ordering referrer is called; the exams escalated."""
    escalated = []
    for report, exam in uow.reports.critical_not_communicated(limit=200):
        window = windows[report.critical_level]
        since = report.uncommunicated_escalated_at or report.final_at or report.updated_at
        if since + window > uow.now:
            continue
        report.uncommunicated_escalated_at = uow.now
        report.uncommunicated_escalations += 1
        _call(
            uow,
            actor,
            exam_id=pk(exam),
            referrer_id=exam.referrer_id,
            step=report.uncommunicated_escalations - 1,  # nobody was called yet
            escalation=report.uncommunicated_escalations,
            level=report.critical_level,
            communication=None,
            reason="not communicated",
        )
        escalated.append(pk(exam))
    return escalated
