"""Stages 9-11: result communication (a closed loop for critical results), follow-up,
satisfaction surveys and closing the exam."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import MappingProxyType

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
from domain.errors import FieldIssue, IssueCode, ValidationFailed
from domain.lifecycle import Actor, Step, transition
from domain.models import (
    Exam,
    Notification,
    Patient,
    Referrer,
    ResultCommunication,
    SatisfactionSurvey,
)
from domain.repositories import UnitOfWork
from domain.services._common import Checks, GuardFacts, load_exam, require_role
from domain.types import pk

# How long the referrer has to acknowledge, by level (ACR practice: minutes, hours, days); the
# defaults of `RADFLOW_*_WINDOW_MINUTES`, which a command is handed as `windows`.
ACKNOWLEDGE_WITHIN: Mapping[CriticalLevel, timedelta] = MappingProxyType(
    {
        CriticalLevel.CRITICAL: timedelta(minutes=60),
        CriticalLevel.URGENT: timedelta(hours=6),
        CriticalLevel.UNEXPECTED: timedelta(days=3),
    }
)
REPORTED = {ExamStatus.FINAL, ExamStatus.COMMUNICATED, ExamStatus.CLOSED}
SURVEY_AFTER = timedelta(hours=24)  # RADFLOW_SURVEY_INVITE_AFTER_HOURS' default
# The messages that carry a result to a person: when one is sent, the result reached them.
RESULT_MESSAGES = frozenset(
    {
        NotificationTemplate.RESULT_AVAILABLE,
        NotificationTemplate.CRITICAL_RESULT,
        NotificationTemplate.CRITICAL_RESULT_ESCALATION,
    }
)
SUPERVISOR_LINE = "radiology supervisor"  # who the chain's last step reaches
ACKNOWLEDGED_FOR = {Role.RADIOLOGIST, Role.REFERRER, Role.SUPERVISOR, Role.ADMIN, Role.INTEGRATION}


@dataclass(frozen=True, slots=True, kw_only=True)
class DirectContact:
    """What a communicator records of a result they gave in person or by phone: to whom (as
    named), how and when."""

    received_by: str
    via: NotificationChannel
    at: datetime | None = None  # now when not given


@dataclass(frozen=True, slots=True, kw_only=True)
class ReadBack:
    """A recipient's read-back recorded on their behalf: who read the result back, how, when."""

    read_back_by: str
    via: NotificationChannel
    at: datetime | None = None  # now when not given


def window_of(communication: ResultCommunication) -> timedelta | None:
    """The acknowledgement window the result was communicated with (the default for its
    category on a record older than configurable windows)."""
    if communication.window_minutes is not None:
        return timedelta(minutes=communication.window_minutes)
    return ACKNOWLEDGE_WITHIN.get(communication.critical_level)


def notify_result(
    *,
    uow: UnitOfWork,
    actor: Actor,
    exam_id: int,
    channel: NotificationChannel | None = None,
    finding: str | None = None,
    direct: DirectContact | None = None,
    windows: Mapping[CriticalLevel, timedelta] = ACKNOWLEDGE_WITHIN,
    survey_after: timedelta = SURVEY_AFTER,
    expected_version: int | None = None,
) -> ResultCommunication:
    """Tell the referrer; a critical result opens a loop that stays open until acknowledged.

    The message goes by `channel`, or else by the referrer's own channel for a critical or
    urgent result (a call when they have a phone) and the portal for others. `direct` records a
    result the communicator gave in person or by phone: it reached that person then. The
    patient is invited to the satisfaction survey `survey_after` later (the exam is over).
    """
    checks = Checks()
    checks.text(finding, "finding", max_length=1000, required=False)
    if direct is not None:
        checks.text(direct.received_by, "direct.received_by", max_length=160)
        _check_past(checks, direct.at, "direct.at", uow)
    checks.done()
    exam = load_exam(uow, exam_id, expected_version=expected_version)
    report, referrer, patient = uow.reports.with_recipients(exam_id)
    facts = GuardFacts(uow, exam, report=report)
    transition(exam, Step.NOTIFY_RESULT, actor=actor, at=uow.now, facts=facts, recorder=uow)
    report = facts.report()  # the guard passed: a final report exists
    assert report is not None
    level = report.critical_level
    critical = level in MUST_ACKNOWLEDGE
    window = windows.get(level)
    if channel is None:
        channel = channel_of(referrer) if critical else NotificationChannel.PORTAL
    communication = ResultCommunication(
        exam_id=exam_id,
        referrer_id=exam.referrer_id,
        critical_level=level,
        channel=channel,
        notified_at=uow.now,
        notified_by=actor.id,
        acknowledge_by=uow.now + window if window else None,
        finding=(finding or report.impression).strip()[:1000],
        identified_at=report.preliminary_at or report.final_at,
        window_minutes=int(window.total_seconds() // 60) if window else None,
    )
    if direct is not None:
        communication.received_by_kind, communication.received_by_name = (
            "person",
            (direct.received_by.strip()),
        )
        communication.received_at = direct.at or uow.now
        communication.received_via = direct.via
    uow.add(communication)
    uow.flush()
    uow.append(
        Notification,
        {
            "exam_id": exam_id,
            "recipient_kind": "referrer",
            "recipient_id": exam.referrer_id,
            "channel": channel,
            "template": NotificationTemplate.CRITICAL_RESULT
            if critical
            else NotificationTemplate.RESULT_AVAILABLE,
            "send_at": uow.now,
            "status": NotificationStatus.QUEUED,
            "created_at": uow.now,
            "payload": {
                "accession": exam.accession_number,
                "criticalLevel": level.value,
                "communicationId": pk(communication),
            },
        },
    )
    invite_to_survey(uow, exam, patient, at=uow.now + survey_after)
    if critical:
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


def invite_to_survey(uow: UnitOfWork, exam: Exam, patient: Patient, *, at: datetime) -> bool:
    """Queue the exam's patient's survey invitation by e-mail, else SMS (its link is signed
    when it is sent); False when the patient has neither."""
    if not (patient.email or patient.phone):
        return False
    uow.append(
        Notification,
        {
            "exam_id": pk(exam),
            "recipient_kind": "patient",
            "recipient_id": exam.patient_id,
            "channel": NotificationChannel.EMAIL if patient.email else NotificationChannel.SMS,
            "template": NotificationTemplate.SURVEY_INVITATION,
            "send_at": at,
            "status": NotificationStatus.QUEUED,
            "created_at": uow.now,
            "payload": {"respondent": Respondent.PATIENT.value},
        },
    )
    return True


def _check_past(checks: Checks, at: datetime | None, field: str, uow: UnitOfWork) -> None:
    if at is not None:
        checks.require(at <= uow.now, field, IssueCode.IN_FUTURE, "must not be in the future")


def channel_of(person: Referrer | None) -> NotificationChannel:
    """How a person is reached urgently: a call when they have a phone, else e-mail, else
    the portal."""
    if person is not None and person.phone:
        return NotificationChannel.PHONE
    if person is not None and person.email:
        return NotificationChannel.EMAIL
    return NotificationChannel.PORTAL


def record_reached(uow: UnitOfWork, notification: Notification) -> ResultCommunication | None:
    """A message carrying a result was sent: the first one to go says who received the result,
    when and by which channel (called by the delivery worker's record of a sent message)."""
    communication_id = notification.payload.get("communicationId")
    if notification.template not in RESULT_MESSAGES or not isinstance(communication_id, int):
        return None
    communication = uow.reports.communication(communication_id)
    if communication is None or communication.received_at is not None:
        return communication
    kind = notification.recipient_kind
    if kind == "supervisor":
        name: str | None = SUPERVISOR_LINE
    else:
        person = uow.department.get(Referrer, notification.recipient_id)
        name = person.name if person is not None else None
    communication.received_by_kind = kind
    communication.received_by_id = notification.recipient_id if kind != "supervisor" else None
    communication.received_by_name = name
    communication.received_at = notification.sent_at or uow.now
    communication.received_via = notification.channel
    return communication


def _is_recipient(actor: Actor, recipients: frozenset[str]) -> bool:
    """The actor is a referrer the result was sent to (`recipients`: their codes): the
    ordering one, or the one an escalation or delivery reached."""
    return actor.role == Role.REFERRER and actor.id in recipients


def acknowledge_result(
    *, uow: UnitOfWork, actor: Actor, exam_id: int, read_back: ReadBack | None = None
) -> ResultCommunication:
    """The recipient confirms they received the result; anyone else acknowledging for them
    records their read-back (who read it back, how, when)."""
    require_role(actor, ACKNOWLEDGED_FOR, "acknowledge results")
    if read_back is not None:
        checks = Checks()
        checks.text(read_back.read_back_by, "read_back.read_back_by", max_length=160)
        _check_past(checks, read_back.at, "read_back.at", uow)
        checks.done()
    load_exam(uow, exam_id)
    found = uow.reports.latest_communication_and_recipients(exam_id)
    if found is None:
        raise ValidationFailed(
            [
                FieldIssue(
                    "exam_id",
                    IssueCode.NOT_COMMUNICATED,
                    "no result has been communicated for this exam",
                )
            ]
        )
    communication, recipients = found
    if communication.acknowledged_at is not None:
        return communication  # acknowledged once; a second answer changes nothing
    if read_back is None and not _is_recipient(actor, recipients):
        raise ValidationFailed(
            [
                FieldIssue(
                    "read_back",
                    IssueCode.READ_BACK_REQUIRED,
                    "only the result's recipient acknowledges it; to acknowledge for them, "
                    "record their read-back (who read it back, how and when)",
                )
            ]
        )
    at = uow.now
    if read_back is not None:
        at = read_back.at or uow.now
        if at < communication.notified_at:
            raise ValidationFailed(
                [
                    FieldIssue(
                        "read_back.at",
                        IssueCode.OUT_OF_RANGE,
                        "a read-back cannot precede the result's communication "
                        f"({communication.notified_at.isoformat()})",
                    )
                ]
            )
        communication.read_back_by = read_back.read_back_by.strip()
        communication.read_back_via = read_back.via
    communication.acknowledged_at, communication.acknowledged_by = at, actor.id
    uow.emit(
        ev.ResultAcknowledged(
            at=uow.now,
            actor=actor.id,
            role=actor.role,
            exam_id=exam_id,
            communication_id=pk(communication),
        )
    )
    return communication


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
    if not uow.reports.add_survey(survey):  # answered at the same moment elsewhere
        raise ValidationFailed(
            [
                FieldIssue(
                    "respondent",
                    IssueCode.ALREADY_SUBMITTED,
                    f"the {respondent.value.lower()} survey is already in",
                )
            ]
        )
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
