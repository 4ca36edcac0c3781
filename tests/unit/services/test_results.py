"""Communicating results and closing the loop, on the in-memory unit of work."""

from __future__ import annotations

from datetime import timedelta

import pytest

from domain import events as ev
from domain.enums import CriticalLevel, ExamStatus, NotificationTemplate, ReportStatus
from domain.errors import IssueCode, ValidationFailed
from domain.lifecycle import Actor, Role
from domain.models import Notification, Referrer, Report
from domain.services import escalation, results
from tests.unit.services.conftest import NOW, READER, REFERRER, SUPERVISOR, Department


def final_report(department: Department, level: CriticalLevel) -> int:
    exam = department.exam(ExamStatus.FINAL)
    department.uow.seed(
        Report(
            exam_id=exam.id or 0,
            radiologist_id=department.reader.id or 0,
            status=ReportStatus.FINAL,
            content={},
            impression="Mass.",
            critical_level=level,
            created_at=NOW,
            updated_at=NOW,
            final_at=NOW,
        )
    )
    return exam.id or 0


def test_a_critical_result_calls_the_referrer_and_waits_for_their_acknowledgement(
    department: Department,
) -> None:
    uow = department.uow
    exam_id = final_report(department, CriticalLevel.CRITICAL)

    communication = results.notify_result(uow=uow, actor=READER, exam_id=exam_id)

    assert communication.acknowledge_by == NOW + timedelta(minutes=60)
    assert uow.events_of(ev.CriticalResultRaised)
    (call,) = uow.appended[Notification]  # the patient has no contact: no survey invitation
    assert call["template"] == "CRITICAL_RESULT"
    with pytest.raises(ValidationFailed) as refused:  # only the recipient, or a read-back
        results.acknowledge_result(uow=uow, actor=Actor("REF99", Role.REFERRER), exam_id=exam_id)
    assert refused.value.issues[0].code == IssueCode.READ_BACK_REQUIRED
    results.acknowledge_result(uow=uow, actor=REFERRER, exam_id=exam_id)
    assert communication.acknowledged_by == REFERRER.id
    assert uow.reports.unacknowledged_critical(exam_id) == 0


def test_an_unacknowledged_critical_result_is_escalated_once_overdue(
    department: Department,
) -> None:
    uow = department.uow
    exam_id = final_report(department, CriticalLevel.CRITICAL)
    communication = results.notify_result(uow=uow, actor=READER, exam_id=exam_id)
    uow.now = NOW + timedelta(minutes=61)

    escalated = escalation.escalate_overdue_results(uow=uow, actor=SUPERVISOR)

    assert escalated == [communication] and communication.escalation_count == 1
    assert communication.acknowledge_by == uow.now + timedelta(minutes=60)
    (event,) = uow.events_of(ev.CriticalResultEscalated)
    assert isinstance(event, ev.CriticalResultEscalated)
    assert (event.escalation_count, event.critical_level, event.recipient_kind) == (
        1,
        "CRITICAL",
        "supervisor",  # no physician covers this referrer: the chain's next is the supervisor
    )


def test_an_unexpected_significant_finding_escalates_after_its_days_and_not_before(
    department: Department,
) -> None:
    uow = department.uow
    exam_id = final_report(department, CriticalLevel.UNEXPECTED)
    communication = results.notify_result(uow=uow, actor=READER, exam_id=exam_id)
    assert communication.acknowledge_by == NOW + timedelta(minutes=4320)  # three days
    uow.now = NOW + timedelta(days=2)
    assert escalation.escalate_overdue_results(uow=uow, actor=SUPERVISOR) == []

    uow.now = NOW + timedelta(days=3, minutes=1)
    assert escalation.escalate_overdue_results(uow=uow, actor=SUPERVISOR) == [communication]
    (event,) = uow.events_of(ev.CriticalResultEscalated)
    assert (event.escalation_count, event.critical_level) == (1, "UNEXPECTED")  # type: ignore[attr-defined]
    results.acknowledge_result(uow=uow, actor=REFERRER, exam_id=exam_id)
    uow.now += timedelta(days=4)
    assert escalation.escalate_overdue_results(uow=uow, actor=SUPERVISOR) == []


def test_an_unacknowledged_result_climbs_the_chain_covering_physician_then_supervisor(
    department: Department,
) -> None:
    uow = department.uow
    covering = Referrer(code="REF02", name="Dr Covering", phone="+15550102")
    uow.seed(covering)
    department.referrer.covered_by_id = covering.id
    exam_id = final_report(department, CriticalLevel.CRITICAL)
    results.notify_result(uow=uow, actor=READER, exam_id=exam_id)

    for _ in range(3):
        uow.now += timedelta(minutes=61)
        escalation.escalate_overdue_results(uow=uow, actor=SUPERVISOR)

    steps = [
        (e.escalation_count, e.recipient_kind, e.recipient_id)  # type: ignore[attr-defined]
        for e in uow.events_of(ev.CriticalResultEscalated)
    ]
    assert steps == [(1, "covering", covering.id), (2, "supervisor", None), (3, "supervisor", None)]
    calls = [
        (n["recipient_kind"], n["recipient_id"])
        for n in uow.appended[Notification]
        if n["template"] == NotificationTemplate.CRITICAL_RESULT_ESCALATION
    ]
    assert calls == [("referrer", covering.id), ("supervisor", 0), ("supervisor", 0)]


def test_a_critical_finding_signed_but_not_communicated_escalates_each_window(
    department: Department,
) -> None:
    uow = department.uow
    exam_id = final_report(department, CriticalLevel.CRITICAL)
    report = uow.reports.of_exam(exam_id)
    assert report is not None and report.final_at is not None
    uow.now = report.final_at + timedelta(minutes=59)
    assert escalation.escalate_uncommunicated_results(uow=uow, actor=SUPERVISOR) == []

    uow.now = report.final_at + timedelta(minutes=60)
    assert escalation.escalate_uncommunicated_results(uow=uow, actor=SUPERVISOR) == [exam_id]
    assert escalation.escalate_uncommunicated_results(uow=uow, actor=SUPERVISOR) == []
    uow.now += timedelta(minutes=60)
    assert escalation.escalate_uncommunicated_results(uow=uow, actor=SUPERVISOR) == [exam_id]

    calls = [
        n for n in uow.appended[Notification] if n["payload"].get("reason") == "not communicated"
    ]
    assert [(n["payload"]["escalation"], n["payload"]["recipient"]) for n in calls] == [
        (1, "referrer"),  # nobody was told yet: the ordering referrer first
        (2, "supervisor"),
    ]
    counts = [e.escalation_count for e in uow.events_of(ev.CriticalResultEscalated)]  # type: ignore[attr-defined]
    assert counts == [1, 2]
    results.notify_result(uow=uow, actor=READER, exam_id=exam_id)
    uow.now += timedelta(hours=5)
    assert escalation.escalate_uncommunicated_results(uow=uow, actor=SUPERVISOR) == []
