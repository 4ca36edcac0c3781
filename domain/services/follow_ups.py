"""Follow-up recommendations (stage 10), tracked to the end: recorded with what and when,
matched with the exam that fulfils them (domain/services/timed.py), and escalated when
overdue along the same chain as a critical result."""

from __future__ import annotations

import calendar
from datetime import date, timedelta

from domain import events as ev
from domain.enums import (
    FollowUpStatus,
    IntervalUnit,
    Modality,
    NotificationChannel,
    NotificationStatus,
    NotificationTemplate,
    Role,
)
from domain.errors import FieldIssue, IssueCode, NotFound, NotPermitted, ValidationFailed
from domain.lifecycle import Actor
from domain.models import FollowUpRecommendation, Notification, Procedure
from domain.repositories import UnitOfWork
from domain.services._common import Checks, load_exam, require_role
from domain.services.escalation import escalation_chain
from domain.services.results import REPORTED
from domain.types import pk

BATCH = 200  # rows one clock run handles; the rest wait for the next run
MAX_INTERVAL_DAYS = 10 * 366  # a recommendation further out than ten years is a typing slip
RECORDERS = {Role.RADIOLOGIST, Role.REFERRER, Role.SUPERVISOR, Role.ADMIN}


def due_date(start: date, count: int, unit: IntervalUnit) -> date:
    """`start` plus the interval; calendar months and years keep the day of the month, or take
    the month's last day when it has no such day (30 Nov + 3 months = 28 or 29 Feb)."""
    if unit is IntervalUnit.DAYS:
        return start + timedelta(days=count)
    if unit is IntervalUnit.WEEKS:
        return start + timedelta(weeks=count)
    months = count * (12 if unit is IntervalUnit.YEARS else 1)
    year, month = divmod(start.month - 1 + months, 12)
    year += start.year
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(start.day, last))


def record_follow_up(
    *,
    uow: UnitOfWork,
    actor: Actor,
    exam_id: int,
    recommendation: str,
    modality: Modality | None = None,
    body_region: str | None = None,
    interval: tuple[int, IntervalUnit] | None = None,
    reason: str | None = None,
    due_on: date | None = None,
    procedure_code: str | None = None,
) -> FollowUpRecommendation:
    """Record a recommended follow-up exam, tracked until done.

    What: a modality and body region (or a procedure code, whose modality and region are
    taken). When: an interval from today, from which the due date follows; a bare due date
    is still taken from older clients, not both."""
    if actor.role not in RECORDERS:
        raise NotPermitted(f"role {actor.role.value} may not record follow-ups")
    checks = Checks()
    checks.text(recommendation, "recommendation", max_length=1000)
    if reason is not None:
        checks.text(reason, "reason", max_length=1000)
    today = uow.now.date()
    if interval is not None:
        count, unit = interval
        checks.require(
            due_on is None,
            "due_on",
            IssueCode.INVALID_VALUE,
            "give the interval or the due date, not both",
        )
        checks.require(count > 0, "interval", IssueCode.OUT_OF_RANGE, "must be at least 1")
        checks.require(
            count < 1  # told above
            or (
                count <= MAX_INTERVAL_DAYS
                and (due_date(today, count, unit) - today).days <= MAX_INTERVAL_DAYS
            ),
            "interval",
            IssueCode.OUT_OF_RANGE,
            "must be ten years or less",
        )
    elif due_on is None:
        checks.require(False, "interval", IssueCode.REQUIRED, "give the interval (or a due date)")
    else:
        checks.require(due_on >= today, "due_on", IssueCode.IN_PAST, "must not be in the past")
    if procedure_code is not None:
        procedure = uow.department.find(Procedure, "code", procedure_code)
        checks.require(
            procedure is not None,
            "procedure_code",
            IssueCode.NOT_FOUND,
            f"procedure {procedure_code} does not exist",
        )
        if procedure is not None:
            region = procedure.body_part.upper()
            checks.require(
                modality in (None, procedure.modality)
                and (body_region is None or body_region.strip().upper() == region),
                "procedure_code",
                IssueCode.INVALID_VALUE,
                f"procedure {procedure_code} is {procedure.modality} {procedure.body_part}, "
                "not the modality and body region given",
            )
            modality, body_region = procedure.modality, procedure.body_part
    elif body_region is not None:
        checks.require(
            modality is not None, "modality", IssueCode.REQUIRED, "a body region needs a modality"
        )
        if modality is not None:
            known = uow.department.body_region(modality, body_region)
            checks.require(
                known is not None,
                "body_region",
                IssueCode.NOT_FOUND,
                f"no {modality} procedure in the catalogue covers {body_region.strip()!r}",
            )
            body_region = known
    else:
        checks.require(
            modality is None, "body_region", IssueCode.REQUIRED, "a modality needs a body region"
        )
    checks.done()
    if interval is not None:
        due_on = due_date(today, *interval)
    assert due_on is not None  # the checks above require one of them
    exam = load_exam(uow, exam_id)
    if exam.status not in REPORTED:
        raise ValidationFailed(
            [
                FieldIssue(
                    "exam_id", IssueCode.NOT_REPORTED, "follow-up is recommended in a final report"
                )
            ]
        )
    follow_up = FollowUpRecommendation(
        exam_id=exam_id,
        recommendation=recommendation.strip(),
        procedure_code=procedure_code,
        modality=modality,
        body_region=body_region,
        interval_count=interval[0] if interval else None,
        interval_unit=interval[1] if interval else None,
        reason=reason.strip() if reason else None,
        due_on=due_on,
        created_at=uow.now,
        created_by=actor.id,
    )
    uow.add(follow_up)
    uow.flush()
    uow.emit(
        ev.FollowUpRecorded(
            at=uow.now, actor=actor.id, role=actor.role, exam_id=exam_id, follow_up_id=pk(follow_up)
        )
    )
    return follow_up


def complete_follow_up(
    *, uow: UnitOfWork, actor: Actor, follow_up_id: int, completed_exam_id: int | None = None
) -> FollowUpRecommendation:
    """Mark a follow-up as done by hand, optionally by the exam that fulfilled it (the clock
    completes the ones whose matched exam is reported without anyone doing this)."""
    require_role(
        actor,
        {Role.RADIOLOGIST, Role.REFERRER, Role.SCHEDULER, Role.SUPERVISOR, Role.ADMIN},
        "complete follow-ups",
    )
    follow_up = uow.reports.follow_up(follow_up_id)
    # Another referrer's follow-up answers as one that does not exist.
    if follow_up is None or not uow.exams.visible_to(actor, [follow_up.exam_id]):
        raise NotFound("follow-up", field="follow_up_id")
    if completed_exam_id is not None and (
        uow.exams.get(completed_exam_id) is None
        or not uow.exams.visible_to(actor, [completed_exam_id])
    ):
        raise NotFound("exam", field="completed_exam_id")
    if follow_up.status != FollowUpStatus.OPEN:
        raise ValidationFailed(
            [
                FieldIssue(
                    "follow_up_id",
                    IssueCode.NOT_OPEN,
                    f"the follow-up is already {follow_up.status}",
                )
            ]
        )
    follow_up.status, follow_up.completed_at = FollowUpStatus.COMPLETED, uow.now
    follow_up.completed_exam_id = completed_exam_id
    return follow_up


def escalate_overdue_follow_ups(
    *, uow: UnitOfWork, actor: Actor, every: timedelta
) -> list[FollowUpRecommendation]:
    """Escalate each open follow-up that is past its due date with no exam ordered for it,
    one step along the critical-result chain every `every`: first the ordering referrer
    (told once already when it fell due), then the covering physician, then the supervisor
    (run by the clock). The follow-ups escalated."""
    escalated = []
    for follow_up in uow.reports.follow_ups_overdue(uow.now.date(), BATCH):
        since = follow_up.escalated_at or follow_up.due_notified_at
        if since is None or since + every > uow.now:
            continue  # not told it fell due yet, or escalated less than `every` ago
        exam = uow.exams.get(follow_up.exam_id)
        if exam is None:
            continue
        follow_up.escalation_count += 1
        follow_up.escalated_at = uow.now
        chain = escalation_chain(uow, exam.referrer_id)
        kind, recipient_id = chain[min(follow_up.escalation_count - 1, len(chain) - 1)]
        uow.append(
            Notification,
            {
                "exam_id": follow_up.exam_id,
                "recipient_kind": "supervisor" if kind == "supervisor" else "referrer",
                "recipient_id": recipient_id,
                "channel": NotificationChannel.EMAIL,
                "template": NotificationTemplate.FOLLOW_UP_OVERDUE,
                "send_at": uow.now,
                "status": NotificationStatus.QUEUED,
                "created_at": uow.now,
                "payload": {
                    "followUpId": pk(follow_up),
                    "dueOn": follow_up.due_on.isoformat(),
                    "escalation": follow_up.escalation_count,
                    "recipient": kind,
                },
            },
        )
        uow.emit(
            ev.FollowUpEscalated(
                at=uow.now,
                actor=actor.id,
                role=actor.role,
                exam_id=follow_up.exam_id,
                follow_up_id=pk(follow_up),
                escalation_count=follow_up.escalation_count,
                recipient_kind=kind,
                recipient_id=recipient_id or None,
            )
        )
        escalated.append(follow_up)
    return escalated
