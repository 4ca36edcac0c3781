"""Work that falls due with time rather than by someone's command (application/clock.py runs
it): appointments nobody came to, follow-ups falling due, matched and completed."""

from __future__ import annotations

from datetime import timedelta

from domain.enums import (
    ExamStatus,
    FollowUpStatus,
    NotificationChannel,
    NotificationStatus,
    NotificationTemplate,
)
from domain.lifecycle import Actor
from domain.models import Exam, FollowUpRecommendation, Notification, Procedure
from domain.repositories import UnitOfWork
from domain.services.results import REPORTED
from domain.services.scheduling import mark_no_show
from domain.types import pk

BATCH = 200  # rows one run handles; the rest wait for the next run
UNFULFILLING = {ExamStatus.CANCELLED, ExamStatus.NO_SHOW}


def mark_unattended_no_shows(*, uow: UnitOfWork, actor: Actor, grace: timedelta) -> list[int]:
    """Record a no-show for every booked or confirmed appointment that ended more than
    `grace` ago with nobody arriving; the exams marked."""
    marked = []
    for appointment in uow.appointments.unattended(uow.now - grace, BATCH):
        exam = uow.exams.get(appointment.exam_id)
        if exam is None or exam.status != ExamStatus.SCHEDULED:
            continue  # moved on by another path (arrival recorded on the exam only)
        mark_no_show(
            uow=uow,
            actor=actor,
            exam_id=appointment.exam_id,
            reason=f"no arrival by the end of the slot plus {grace}",
        )
        marked.append(appointment.exam_id)
    return marked


def track_follow_ups(*, uow: UnitOfWork) -> tuple[list[int], list[int]]:
    """Link each open follow-up to the first exam for its patient, ordered or performed since
    the recommendation, that matches the recommended modality and body region (the
    catalogue's procedure says which), give it back when that exam is cancelled or missed or
    its procedure was changed to one that no longer matches (an order change, ORC-1 XO), and
    complete it when that exam is reported; the follow-ups linked and completed."""
    linked, completed = [], []
    for follow_up, exam in uow.reports.linked_follow_ups(BATCH):
        if exam.status in UNFULFILLING or not _matches(uow, follow_up, exam):
            follow_up.completed_exam_id = None  # free to match a later exam
        elif exam.status in REPORTED:
            follow_up.status, follow_up.completed_at = FollowUpStatus.COMPLETED, uow.now
            completed.append(pk(follow_up))
    for follow_up, exam in uow.reports.follow_up_candidates(BATCH):
        if follow_up.completed_exam_id is None and follow_up.status == FollowUpStatus.OPEN:
            follow_up.completed_exam_id = pk(exam)
            linked.append(pk(follow_up))
    return linked, completed


def _matches(uow: UnitOfWork, follow_up: FollowUpRecommendation, exam: Exam) -> bool:
    """Whether the exam's procedure (as it is now) is the recommended modality and region."""
    procedure = uow.department.get(Procedure, exam.procedure_id)
    return (
        procedure is not None
        and procedure.modality == follow_up.modality
        and (follow_up.body_region or "").upper() == procedure.body_part.upper()
    )


def notify_follow_ups_due(*, uow: UnitOfWork) -> list[int]:
    """Tell the ordering referrer of each open follow-up that fell due (once each); the
    follow-ups told."""
    told = []
    for follow_up in uow.reports.follow_ups_fallen_due(uow.now.date(), BATCH):
        exam = uow.exams.get(follow_up.exam_id)
        if exam is None:
            continue
        uow.append(
            Notification,
            {
                "exam_id": follow_up.exam_id,
                "recipient_kind": "referrer",
                "recipient_id": exam.referrer_id,
                "channel": NotificationChannel.EMAIL,
                "template": NotificationTemplate.FOLLOW_UP_DUE,
                "send_at": uow.now,
                "status": NotificationStatus.QUEUED,
                "created_at": uow.now,
                "payload": {"followUpId": follow_up.id, "dueOn": follow_up.due_on.isoformat()},
            },
        )
        follow_up.due_notified_at = uow.now
        assert follow_up.id is not None
        told.append(follow_up.id)
    return told
