"""Stages 9-11: result communication (a closed loop for critical results), follow-up,
satisfaction surveys and closing the exam."""

from __future__ import annotations

from datetime import timedelta

from domain import events as ev
from domain.enums import (
    MUST_ACKNOWLEDGE,
    CriticalLevel,
    ExamStatus,
    NotificationChannel,
    NotificationStatus,
    NotificationTemplate,
    Respondent,
    Role,
)
from domain.errors import FieldIssue, IssueCode, NotPermitted, ValidationFailed
from domain.lifecycle import Actor, Step, transition
from domain.models import (
    Exam,
    Notification,
    Referrer,
    ResultCommunication,
    SatisfactionSurvey,
)
from domain.repositories import UnitOfWork
from domain.services._common import Checks, GuardFacts, load_exam, require_role
from domain.types import pk

# How long the referrer has to acknowledge, by level (ACR practice: minutes, hours, days).
ACKNOWLEDGE_WITHIN = {
    CriticalLevel.CRITICAL: timedelta(minutes=60),
    CriticalLevel.URGENT: timedelta(hours=6),
    CriticalLevel.UNEXPECTED: timedelta(days=3),
}
REPORTED = {ExamStatus.FINAL, ExamStatus.COMMUNICATED, ExamStatus.CLOSED}


def notify_result(
    *,
    uow: UnitOfWork,
    actor: Actor,
    exam_id: int,
    channel: NotificationChannel = NotificationChannel.PORTAL,
    expected_version: int | None = None,
) -> ResultCommunication:
    """Tell the referrer; a critical result opens a loop that stays open until acknowledged."""
    exam = load_exam(uow, exam_id, expected_version=expected_version)
    facts = GuardFacts(uow, exam)
    transition(exam, Step.NOTIFY_RESULT, actor=actor, at=uow.now, facts=facts, recorder=uow)
    report = facts.report()  # the guard read it: a final report exists
    assert report is not None
    level = report.critical_level
    window = ACKNOWLEDGE_WITHIN.get(level)
    communication = ResultCommunication(
        exam_id=exam_id,
        referrer_id=exam.referrer_id,
        critical_level=level,
        channel=channel,
        notified_at=uow.now,
        notified_by=actor.id,
        acknowledge_by=uow.now + window if window else None,
    )
    uow.add(communication)
    critical = level in MUST_ACKNOWLEDGE
    uow.append(
        Notification,
        {
            "exam_id": exam_id,
            "recipient_kind": "referrer",
            "recipient_id": exam.referrer_id,
            "channel": NotificationChannel.PHONE if critical else channel,
            "template": NotificationTemplate.CRITICAL_RESULT
            if critical
            else NotificationTemplate.RESULT_AVAILABLE,
            "send_at": uow.now,
            "status": NotificationStatus.QUEUED,
            "created_at": uow.now,
            "payload": {"accession": exam.accession_number, "criticalLevel": level.value},
        },
    )
    if critical:
        uow.flush()
        uow.emit(
            ev.CriticalResultRaised(
                at=uow.now,
                actor=actor.id,
                role=actor.role,
                exam_id=exam_id,
                site_id=exam.site_id,
                communication_id=pk(communication),
                critical_level=level.value,
            )
        )
    return communication


def acknowledge_result(*, uow: UnitOfWork, actor: Actor, exam_id: int) -> ResultCommunication:
    """The referrer confirms they received the result."""
    exam = load_exam(uow, exam_id)
    if actor.role == Role.REFERRER:
        referrer = uow.department.get(Referrer, exam.referrer_id)
        if referrer is None or referrer.code != actor.id:
            raise NotPermitted("only the ordering referrer may acknowledge this result")
    elif actor.role not in {Role.SUPERVISOR, Role.ADMIN, Role.INTEGRATION}:
        raise NotPermitted(f"role {actor.role.value} may not acknowledge results")
    communication = uow.reports.latest_communication(exam_id)
    if communication is None:
        raise ValidationFailed(
            [
                FieldIssue(
                    "exam_id",
                    IssueCode.NOT_COMMUNICATED,
                    "no result has been communicated for this exam",
                )
            ]
        )
    if communication.acknowledged_at is None:
        communication.acknowledged_at, communication.acknowledged_by = uow.now, actor.id
        assert communication.id is not None
        uow.emit(
            ev.ResultAcknowledged(
                at=uow.now,
                actor=actor.id,
                role=actor.role,
                exam_id=exam_id,
                communication_id=communication.id,
            )
        )
    return communication


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
    communication_id: int | None,
    reason: str,
) -> None:
    """Queue the escalation's call to the `step`-th person of the chain (the last one for any
    later step) and emit its event."""
    chain = escalation_chain(uow, referrer_id)
    kind, recipient_id = chain[min(step, len(chain) - 1)]
    uow.append(
        Notification,
        {
            "exam_id": exam_id,
            # The covering physician is a referrer too (their contact is on their row).
            "recipient_kind": "supervisor" if kind == "supervisor" else "referrer",
            "recipient_id": recipient_id,
            "channel": NotificationChannel.PHONE,
            "template": NotificationTemplate.CRITICAL_RESULT_ESCALATION,
            "send_at": uow.now,
            "status": NotificationStatus.QUEUED,
            "created_at": uow.now,
            "payload": {
                "escalation": escalation,
                "criticalLevel": level.value,
                "recipient": kind,
                "reason": reason,
            },
        },
    )
    uow.emit(
        ev.CriticalResultEscalated(
            at=uow.now,
            actor=actor.id,
            role=actor.role,
            exam_id=exam_id,
            communication_id=communication_id,
            critical_level=level.value,
            escalation_count=escalation,
            recipient_kind=kind,
            recipient_id=recipient_id or None,
        )
    )


def escalate_overdue_results(*, uow: UnitOfWork, actor: Actor) -> list[ResultCommunication]:
    """Escalate every critical result not acknowledged in time, one step along its chain
    (run by the clock)."""
    overdue = uow.reports.overdue_communications(uow.now)
    for communication in overdue:
        window = ACKNOWLEDGE_WITHIN[communication.critical_level]
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
            communication_id=pk(communication),
            reason="not acknowledged",
        )
    return overdue


def escalate_uncommunicated_results(*, uow: UnitOfWork, actor: Actor) -> list[int]:
    """Escalate every critical or urgent finding signed final whose result was not
    communicated within its window (counted from signing, then from the last escalation):
    the ordering referrer is called; the exams escalated."""
    escalated = []
    for report, exam in uow.reports.critical_not_communicated(limit=200):
        window = ACKNOWLEDGE_WITHIN[report.critical_level]
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
            communication_id=None,
            reason="not communicated",
        )
        escalated.append(pk(exam))
    return escalated


def submit_survey(
    *,
    uow: UnitOfWork,
    actor: Actor,
    exam_id: int,
    respondent: Respondent,
    score: int,
    comment: str | None = None,
) -> SatisfactionSurvey:
    """A referrer or patient rates the exam (1-5), once each."""
    allowed = {Respondent.REFERRER: Role.REFERRER, Respondent.PATIENT: Role.PATIENT}
    require_role(
        actor, {allowed[respondent], Role.ADMIN}, f"answer the {respondent.value.lower()} survey"
    )
    checks = Checks()
    checks.require(1 <= score <= 5, "score", IssueCode.OUT_OF_RANGE, "must be between 1 and 5")
    checks.text(comment, "comment", max_length=2000, required=False)
    checks.done()
    exam = load_exam(uow, exam_id)
    if exam.status not in {ExamStatus.COMMUNICATED, ExamStatus.CLOSED}:
        raise ValidationFailed(
            [
                FieldIssue(
                    "exam_id",
                    IssueCode.NOT_COMPLETED,
                    "surveys open once the result is communicated",
                )
            ]
        )
    if uow.reports.survey_taken(exam_id, respondent):
        raise ValidationFailed(
            [
                FieldIssue(
                    "respondent",
                    IssueCode.ALREADY_SUBMITTED,
                    f"the {respondent.value.lower()} survey is already in",
                )
            ]
        )
    survey = SatisfactionSurvey(
        exam_id=exam_id,
        respondent=respondent,
        score=score,
        comment=comment,
        submitted_at=uow.now,
        submitted_by=actor.id,
    )
    uow.add(survey)
    uow.flush()
    assert survey.id is not None
    uow.emit(
        ev.SurveySubmitted(
            at=uow.now, actor=actor.id, role=actor.role, exam_id=exam_id, survey_id=survey.id
        )
    )
    return survey


def close_exam(
    *, uow: UnitOfWork, actor: Actor, exam_id: int, expected_version: int | None = None
) -> Exam:
    """Archive the exam; a critical result must have been acknowledged."""
    exam = load_exam(uow, exam_id, expected_version=expected_version)
    transition(exam, Step.CLOSE, actor=actor, at=uow.now, facts=GuardFacts(uow, exam), recorder=uow)
    return exam
