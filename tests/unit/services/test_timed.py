"""Timed work and notification bookkeeping, on the in-memory unit of work."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from domain.enums import (
    AppointmentStatus,
    ExamStatus,
    FollowUpStatus,
    Modality,
    NotificationChannel,
    NotificationStatus,
    NotificationTemplate,
    Role,
    Subspecialty,
)
from domain.lifecycle import Actor
from domain.models import Appointment, FollowUpRecommendation, Notification, Procedure
from domain.services import notifications, scheduling, timed
from domain.types import pk
from tests.unit.services.conftest import NOW, SCHEDULER, Department

SYSTEM = Actor("radflow-clock", Role.SYSTEM)


def queued(department: Department, exam_id: int, template: NotificationTemplate) -> Notification:
    row = Notification(
        exam_id=exam_id,
        recipient_kind="patient",
        recipient_id=pk(department.patient),
        channel=NotificationChannel.SMS,
        template=template,
        send_at=NOW + timedelta(hours=20),
        created_at=NOW - timedelta(days=1),
        payload={},
    )
    department.uow.seed(row)
    return row


def booked(department: Department, exam_id: int, starts: Any) -> Appointment:
    appointment = Appointment(
        exam_id=exam_id,
        resource_id=pk(department.scanner),
        starts_at=starts,
        ends_at=starts + timedelta(minutes=15),
        status=AppointmentStatus.BOOKED,
        booked_at=NOW - timedelta(days=2),
        booked_by="desk.lee",
    )
    department.uow.seed(appointment)
    return appointment


def test_a_reschedule_cancels_the_old_reminder_and_queues_a_new_one(
    department: Department,
) -> None:
    exam = department.exam(ExamStatus.SCHEDULED)
    booked(department, pk(exam), NOW + timedelta(days=1))
    old = queued(department, pk(exam), NotificationTemplate.APPOINTMENT_REMINDER)

    scheduling.reschedule_exam(
        uow=department.uow,
        actor=SCHEDULER,
        exam_id=pk(exam),
        resource_code="CT1",
        starts_at=NOW + timedelta(days=2),
        reason="Patient asked",
    )

    assert old.status == NotificationStatus.CANCELLED and old.cancelled_at == NOW
    new = [n["template"] for n in department.uow.appended[Notification]]
    assert NotificationTemplate.APPOINTMENT_REMINDER in new


def test_a_cancel_cancels_the_reminder_but_not_other_messages(department: Department) -> None:
    exam = department.exam(ExamStatus.SCHEDULED)
    booked(department, pk(exam), NOW + timedelta(days=1))
    reminder = queued(department, pk(exam), NotificationTemplate.APPOINTMENT_REMINDER)
    result = queued(department, pk(exam), NotificationTemplate.RESULT_AVAILABLE)

    scheduling.cancel_exam(uow=department.uow, actor=SCHEDULER, exam_id=pk(exam), reason="Ill")

    assert reminder.status == NotificationStatus.CANCELLED
    assert result.status == NotificationStatus.QUEUED


def test_an_appointment_nobody_came_to_becomes_a_no_show_after_the_grace(
    department: Department,
) -> None:
    late, early = department.exam(ExamStatus.SCHEDULED), department.exam(ExamStatus.SCHEDULED)
    booked(department, pk(late), NOW - timedelta(minutes=45))  # ended 30 minutes ago
    booked(department, pk(early), NOW - timedelta(minutes=20))  # ended 5 minutes ago

    marked = timed.mark_unattended_no_shows(
        uow=department.uow, actor=SYSTEM, grace=timedelta(minutes=15)
    )

    assert marked == [pk(late)]
    assert late.status == ExamStatus.NO_SHOW and early.status == ExamStatus.SCHEDULED


def test_a_follow_up_falling_due_is_told_to_the_referrer_once(department: Department) -> None:
    exam = department.exam(ExamStatus.FINAL)
    follow_up = FollowUpRecommendation(
        exam_id=pk(exam),
        recommendation="CT chest in 3 months",
        due_on=date(2030, 3, 4),
        status=FollowUpStatus.OPEN,
        created_at=NOW - timedelta(days=90),
        created_by="RAD01",
    )
    department.uow.seed(follow_up)

    assert timed.notify_follow_ups_due(uow=department.uow) == [pk(follow_up)]
    assert timed.notify_follow_ups_due(uow=department.uow) == []
    (message,) = department.uow.appended[Notification]
    assert message["template"] == NotificationTemplate.FOLLOW_UP_DUE
    assert message["recipient_id"] == pk(department.referrer)


def test_a_failed_try_waits_doubling_then_fails_after_the_last(department: Department) -> None:
    exam = department.exam(ExamStatus.SCHEDULED)
    row = queued(department, pk(exam), NotificationTemplate.APPOINTMENT_REMINDER)
    row.send_at = NOW
    uow, waits = department.uow, []
    for _ in range(3):
        (claim,) = notifications.claim_due(
            uow, channels={NotificationChannel.SMS}, limit=10, lease=timedelta(minutes=1)
        )
        assert claim.delivery_id == (row.delivery_id or "")
        notifications.record_failure(
            uow,
            notification_id=pk(row),
            answer="503 busy",
            permanent=False,
            max_attempts=3,
            backoff=timedelta(seconds=30),
            max_backoff=timedelta(hours=1),
        )
        if row.next_attempt_at is not None:
            waits.append(row.next_attempt_at - uow.now)
            uow.now = row.next_attempt_at

    assert waits == [timedelta(seconds=30), timedelta(seconds=60)]
    assert row.status == NotificationStatus.FAILED and row.attempts == 3
    notifications.retry_notification(
        uow=uow, actor=Actor("sup", Role.SUPERVISOR), notification_id=pk(row)
    )
    assert row.status == NotificationStatus.QUEUED and row.attempts == 0


def test_a_follow_up_links_to_a_matching_later_exam_lets_go_of_a_cancelled_one_and_completes(
    department: Department,
) -> None:
    uow = department.uow
    first = department.exam(ExamStatus.FINAL)
    follow_up = FollowUpRecommendation(
        exam_id=pk(first),
        recommendation="CT chest in 3 months",
        modality=Modality.CT,
        body_region="chest",  # matched in any case
        due_on=date(2030, 6, 4),
        created_at=NOW - timedelta(hours=3),
        created_by="RAD01",
    )
    uow.seed(follow_up)
    cancelled = department.exam(ExamStatus.CANCELLED)
    later = department.exam(ExamStatus.ORDERED)

    assert timed.track_follow_ups(uow=uow) == ([pk(follow_up)], [])
    assert follow_up.completed_exam_id == pk(later)  # not the cancelled one
    later.status = ExamStatus.NO_SHOW
    assert timed.track_follow_ups(uow=uow) == ([], [])  # let go; nothing else matches
    assert follow_up.completed_exam_id is None and cancelled.id is not None
    again = department.exam(ExamStatus.ORDERED)
    assert timed.track_follow_ups(uow=uow) == ([pk(follow_up)], [])
    again.status = ExamStatus.COMMUNICATED
    assert timed.track_follow_ups(uow=uow) == ([], [pk(follow_up)])
    assert follow_up.status == FollowUpStatus.COMPLETED and follow_up.completed_exam_id == pk(again)


def test_a_follow_up_matches_again_when_an_earlier_order_is_performed_and_when_it_changes(
    department: Department,
) -> None:
    """Matching runs at the order and again at the performance: an exam ordered before the
    recommendation fulfils it once performed after it; a linked exam whose procedure was
    changed to one that no longer matches lets it go."""
    uow = department.uow
    first = department.exam(ExamStatus.FINAL)
    follow_up = FollowUpRecommendation(
        exam_id=pk(first),
        recommendation="CT chest in 3 months",
        modality=Modality.CT,
        body_region="CHEST",
        due_on=date(2030, 6, 4),
        created_at=NOW - timedelta(hours=1),  # after the exams below were ordered (NOW - 2 h)
        created_by="RAD01",
    )
    uow.seed(follow_up)
    earlier = department.exam(ExamStatus.SCHEDULED)
    assert timed.track_follow_ups(uow=uow) == ([], [])  # ordered before, not yet performed

    earlier.status, earlier.ready_at = ExamStatus.READY_FOR_READ, NOW - timedelta(minutes=5)
    assert timed.track_follow_ups(uow=uow) == ([pk(follow_up)], [])
    assert follow_up.completed_exam_id == pk(earlier)

    head = Procedure(
        code="CTHEAD",
        name="CT head",
        modality=Modality.CT,
        body_part="HEAD",
        subspecialty=Subspecialty.NEURO,
        wrvu=1.0,
        read_minutes=10,
        scan_minutes=15,
    )
    uow.seed(head)
    earlier.procedure_id = pk(head)  # changed by the order source (ORC-1 XO)
    assert timed.track_follow_ups(uow=uow) == ([], [])
    assert follow_up.completed_exam_id is None
    assert follow_up.status == FollowUpStatus.OPEN
