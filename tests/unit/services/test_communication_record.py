"""The ACR communication record: the finding, its category and window, who received the
result, when and how, and who acknowledged it (the recipient, or a documented read-back)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from domain.enums import (
    CriticalLevel,
    ExamStatus,
    NotificationChannel,
    NotificationStatus,
    NotificationTemplate,
    ReportStatus,
    Respondent,
)
from domain.errors import IssueCode, ValidationFailed
from domain.lifecycle import Actor, Role
from domain.models import Notification, Referrer, Report
from domain.services import escalation, results
from domain.services.notifications import record_sent
from tests.unit.services.conftest import NOW, READER, REFERRER, SUPERVISOR, Department

SIGNED = NOW - timedelta(minutes=20)


def signed_report(department: Department, level: CriticalLevel) -> int:
    exam = department.exam(ExamStatus.FINAL)
    department.uow.seed(
        Report(
            exam_id=exam.id or 0,
            radiologist_id=department.reader.id or 0,
            status=ReportStatus.FINAL,
            content={},
            impression="Large right pneumothorax.",
            critical_level=level,
            created_at=SIGNED - timedelta(minutes=30),
            updated_at=SIGNED,
            preliminary_at=SIGNED - timedelta(minutes=5),
            final_at=SIGNED,
        )
    )
    return exam.id or 0


def test_the_record_keeps_the_finding_its_category_window_and_when_it_was_identified(
    department: Department,
) -> None:
    exam_id = signed_report(department, CriticalLevel.URGENT)
    windows = {**results.ACKNOWLEDGE_WITHIN, CriticalLevel.URGENT: timedelta(minutes=90)}

    record = results.notify_result(
        uow=department.uow, actor=READER, exam_id=exam_id, windows=windows
    )

    assert record.finding == "Large right pneumothorax."  # the impression, none stated
    assert record.identified_at == SIGNED - timedelta(minutes=5)  # the first signing
    assert (record.critical_level, record.window_minutes) == (CriticalLevel.URGENT, 90)
    assert record.acknowledge_by == NOW + timedelta(minutes=90)
    assert record.notified_by == READER.id
    assert record.received_at is None  # nothing reached anyone yet


def test_a_critical_result_goes_by_the_referrers_own_channel_and_its_sending_says_who_got_it(
    department: Department,
) -> None:
    uow = department.uow
    department.referrer.email = "ref@example.org"  # no phone: e-mail, not a default call
    exam_id = signed_report(department, CriticalLevel.CRITICAL)
    record = results.notify_result(uow=uow, actor=READER, exam_id=exam_id)
    (queued,) = uow.appended[Notification]
    assert queued["channel"] == record.channel == NotificationChannel.EMAIL
    message = Notification(**queued)
    uow.seed(message)
    uow.now = NOW + timedelta(minutes=3)

    record_sent(uow, notification_id=message.id or 0, answer="250 accepted")

    assert message.status == NotificationStatus.SENT
    assert (record.received_by_kind, record.received_by_id, record.received_by_name) == (
        "referrer",
        department.referrer.id,
        "Dr Referrer",
    )
    assert (record.received_at, record.received_via) == (
        NOW + timedelta(minutes=3),
        NotificationChannel.EMAIL,
    )


def test_a_result_given_by_phone_records_who_took_it_and_a_later_message_does_not_replace_it(
    department: Department,
) -> None:
    uow = department.uow
    exam_id = signed_report(department, CriticalLevel.CRITICAL)
    called = NOW - timedelta(minutes=2)
    record = results.notify_result(
        uow=uow,
        actor=READER,
        exam_id=exam_id,
        finding="Tension pneumothorax, right",
        direct=results.DirectContact(
            received_by="Dr Lee, ED attending", via=NotificationChannel.PHONE, at=called
        ),
    )
    message = Notification(**uow.appended[Notification][0])
    uow.seed(message)
    record_sent(uow, notification_id=message.id or 0, answer="200")

    assert record.finding == "Tension pneumothorax, right"
    assert (record.received_by_kind, record.received_by_name) == ("person", "Dr Lee, ED attending")
    assert (record.received_at, record.received_via) == (called, NotificationChannel.PHONE)


def test_a_direct_contact_in_the_future_or_without_a_name_is_refused_and_nothing_is_written(
    department: Department,
) -> None:
    uow = department.uow
    exam_id = signed_report(department, CriticalLevel.CRITICAL)
    with pytest.raises(ValidationFailed) as refused:
        results.notify_result(
            uow=uow,
            actor=READER,
            exam_id=exam_id,
            direct=results.DirectContact(
                received_by=" ", via=NotificationChannel.PHONE, at=NOW + timedelta(minutes=1)
            ),
        )
    assert [(i.field, i.code) for i in refused.value.issues] == [
        ("direct.received_by", IssueCode.REQUIRED),
        ("direct.at", IssueCode.IN_FUTURE),
    ]
    assert uow.reports.latest_communication(exam_id) is None
    assert not uow.appended.get(Notification)


def test_acknowledging_someone_elses_result_needs_their_read_back(
    department: Department,
) -> None:
    uow = department.uow
    exam_id = signed_report(department, CriticalLevel.CRITICAL)
    record = results.notify_result(uow=uow, actor=READER, exam_id=exam_id)
    for actor in (READER, SUPERVISOR, Actor("REF99", Role.REFERRER)):
        with pytest.raises(ValidationFailed) as refused:
            results.acknowledge_result(uow=uow, actor=actor, exam_id=exam_id)
        assert (refused.value.issues[0].field, refused.value.issues[0].code) == (
            "read_back",
            IssueCode.READ_BACK_REQUIRED,
        )
    assert record.acknowledged_at is None

    uow.now = NOW + timedelta(minutes=25)
    read_back = results.ReadBack(
        read_back_by="Dr Lee", via=NotificationChannel.PHONE, at=NOW + timedelta(minutes=12)
    )
    results.acknowledge_result(uow=uow, actor=READER, exam_id=exam_id, read_back=read_back)

    # The acknowledgement is the read-back's time; the reader is who recorded it.
    assert (record.acknowledged_at, record.acknowledged_by) == (
        NOW + timedelta(minutes=12),
        "RAD01",
    )
    assert (record.read_back_by, record.read_back_via) == ("Dr Lee", NotificationChannel.PHONE)


def test_a_read_back_before_the_communication_or_in_the_future_is_refused(
    department: Department,
) -> None:
    uow = department.uow
    exam_id = signed_report(department, CriticalLevel.CRITICAL)
    record = results.notify_result(uow=uow, actor=READER, exam_id=exam_id)
    for at, code in (
        (NOW - timedelta(minutes=1), IssueCode.OUT_OF_RANGE),
        (NOW + timedelta(minutes=1), IssueCode.IN_FUTURE),
    ):
        back = results.ReadBack(read_back_by="Dr Lee", via=NotificationChannel.PHONE, at=at)
        with pytest.raises(ValidationFailed) as refused:
            results.acknowledge_result(uow=uow, actor=SUPERVISOR, exam_id=exam_id, read_back=back)
        assert (refused.value.issues[0].field, refused.value.issues[0].code) == (
            "read_back.at",
            code,
        )
    assert record.acknowledged_at is None and record.read_back_by is None


def test_the_ordering_referrer_acknowledges_their_own_result_without_a_read_back(
    department: Department,
) -> None:
    uow = department.uow
    exam_id = signed_report(department, CriticalLevel.URGENT)
    record = results.notify_result(uow=uow, actor=READER, exam_id=exam_id)
    uow.now = NOW + timedelta(minutes=7)

    results.acknowledge_result(uow=uow, actor=REFERRER, exam_id=exam_id)

    assert (record.acknowledged_at, record.acknowledged_by, record.read_back_by) == (
        NOW + timedelta(minutes=7),
        "REF01",
        None,
    )


def test_each_escalation_step_records_its_recipient_and_that_persons_channel(
    department: Department,
) -> None:
    uow = department.uow
    covering = Referrer(code="REF02", name="Dr Covering", email="cover@example.org")
    uow.seed(covering)
    department.referrer.covered_by_id = covering.id
    department.referrer.phone = "+15550101"
    exam_id = signed_report(department, CriticalLevel.CRITICAL)
    windows = {**results.ACKNOWLEDGE_WITHIN, CriticalLevel.CRITICAL: timedelta(minutes=30)}
    record = results.notify_result(uow=uow, actor=READER, exam_id=exam_id, windows=windows)
    assert record.channel == NotificationChannel.PHONE  # the referrer has a phone

    uow.now = NOW + timedelta(minutes=30)  # the result's own window, not the default hour
    assert escalation.escalate_overdue_results(uow=uow, actor=SUPERVISOR) == [record]
    assert (record.escalated_to_kind, record.escalated_to_id, record.escalated_via) == (
        "referrer",
        covering.id,
        NotificationChannel.EMAIL,  # the covering physician has only an e-mail
    )
    assert record.acknowledge_by == NOW + timedelta(minutes=60)

    uow.now = NOW + timedelta(minutes=60)
    escalation.escalate_overdue_results(uow=uow, actor=SUPERVISOR)
    assert (record.escalated_to_kind, record.escalated_to_id, record.escalated_via) == (
        "supervisor",
        None,
        NotificationChannel.PHONE,
    )
    steps = [
        (n["recipient_kind"], n["recipient_id"], n["channel"], n["payload"]["communicationId"])
        for n in uow.appended[Notification]
        if n["template"] == NotificationTemplate.CRITICAL_RESULT_ESCALATION
    ]
    assert steps == [
        ("referrer", covering.id, NotificationChannel.EMAIL, record.id),
        ("supervisor", 0, NotificationChannel.PHONE, record.id),
    ]
    # The escalation that reached the covering physician is sent: the record says so.
    call = Notification(**uow.appended[Notification][1])
    uow.seed(call)
    record_sent(uow, notification_id=call.id or 0, answer="250")
    assert (record.received_by_kind, record.received_by_id) == ("referrer", covering.id)
    # ...and the covering physician is now a recipient who may acknowledge it themselves.
    results.acknowledge_result(uow=uow, actor=Actor("REF02", Role.REFERRER), exam_id=exam_id)
    assert record.acknowledged_by == "REF02"


def test_communicating_the_result_invites_a_reachable_patient_to_the_survey_a_day_later(
    department: Department,
) -> None:
    uow = department.uow
    department.patient.phone = "+15550199"
    exam_id = signed_report(department, CriticalLevel.NONE)

    results.notify_result(uow=uow, actor=READER, exam_id=exam_id)

    (invitation,) = [
        n
        for n in uow.appended[Notification]
        if n["template"] == NotificationTemplate.SURVEY_INVITATION
    ]
    assert (invitation["recipient_kind"], invitation["recipient_id"]) == (
        "patient",
        department.patient.id,
    )
    assert invitation["channel"] == NotificationChannel.SMS  # no e-mail on file
    assert invitation["send_at"] == NOW + timedelta(hours=24)
    assert invitation["payload"] == {"respondent": Respondent.PATIENT.value}  # no PHI
