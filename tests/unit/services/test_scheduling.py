"""Booking, cancelling and arrivals, on the in-memory unit of work."""

from __future__ import annotations

from datetime import timedelta

import pytest

from domain.enums import AppointmentStatus, ExamStatus
from domain.errors import SlotTaken
from domain.models import Notification, SlotClaim
from domain.services import scheduling
from tests.unit.services.conftest import NOW, SCHEDULER, Department

TOMORROW_TEN = NOW + timedelta(days=1, hours=1)


def test_booking_claims_the_slot_and_queues_the_patients_messages(
    department: Department,
) -> None:
    exam = department.exam(ExamStatus.ORDERED)

    appointment = scheduling.schedule_exam(
        uow=department.uow,
        actor=SCHEDULER,
        exam_id=exam.id or 0,
        resource_code="CT1",
        starts_at=TOMORROW_TEN,
    )

    assert exam.status == ExamStatus.SCHEDULED
    assert appointment.status == AppointmentStatus.BOOKED
    assert [c.slot_start for c in department.uow.rows.all(SlotClaim)] == [TOMORROW_TEN]
    assert len(department.uow.appended[Notification]) == 3  # confirmation, reminder, prep


def test_a_second_exam_on_a_claimed_slot_is_refused(department: Department) -> None:
    first, second = department.exam(ExamStatus.ORDERED), department.exam(ExamStatus.ORDERED)
    scheduling.schedule_exam(
        uow=department.uow,
        actor=SCHEDULER,
        exam_id=first.id or 0,
        resource_code="CT1",
        starts_at=TOMORROW_TEN,
    )

    with pytest.raises(SlotTaken):
        scheduling.schedule_exam(
            uow=department.uow,
            actor=SCHEDULER,
            exam_id=second.id or 0,
            resource_code="CT1",
            starts_at=TOMORROW_TEN,
        )


def test_cancelling_frees_the_slot_for_the_next_booking(department: Department) -> None:
    exam = department.exam(ExamStatus.ORDERED)
    uow = department.uow
    scheduling.schedule_exam(
        uow=uow, actor=SCHEDULER, exam_id=exam.id or 0, resource_code="CT1", starts_at=TOMORROW_TEN
    )

    scheduling.cancel_exam(uow=uow, actor=SCHEDULER, exam_id=exam.id or 0, reason="Patient ill")

    assert exam.status == ExamStatus.CANCELLED
    assert uow.rows.all(SlotClaim) == []
    assert uow.appointments.live(exam.id or 0) is None
