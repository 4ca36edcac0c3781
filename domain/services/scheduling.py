"""Stage 2: slots, appointments, reminders, arrivals, no-shows and cancellations."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlmodel import col

from domain import events as ev
from domain.enums import (
    AppointmentStatus,
    ExamStatus,
    NotificationChannel,
    NotificationStatus,
    NotificationTemplate,
    Role,
)
from domain.errors import FieldIssue, IssueCode, SlotTaken, ValidationFailed
from domain.lifecycle import Actor, Step, ensure_step_permitted, transition
from domain.models import (
    Appointment,
    Exam,
    ModalityResource,
    Notification,
    OpeningHours,
    Procedure,
    Site,
    SlotClaim,
)
from domain.repositories import UnitOfWork
from domain.services._common import (
    Checks,
    GuardFacts,
    find_by,
    load_exam,
    require_role,
)
from domain.services.notifications import cancel_booking_messages
from domain.types import pk

MAX_SLOT_SEARCH_DAYS = 31
MAX_SLOTS = 500
REMINDER_BEFORE = timedelta(hours=24)


@dataclass(frozen=True)
class Slot:
    """A bookable window on a resource."""

    resource_id: int
    resource_code: str
    site_id: int
    starts_at: datetime
    ends_at: datetime


def _units(resource: ModalityResource, procedure: Procedure) -> int:
    return max(1, math.ceil(procedure.scan_minutes / resource.slot_minutes))


def _candidate_starts(
    hours: list[OpeningHours],
    resource: ModalityResource,
    site: Site,
    start: datetime,
    end: datetime,
    units: int,
) -> list[datetime]:
    """Slot starts inside the resource's opening hours between start and end (UTC)."""
    zone = ZoneInfo(site.timezone)
    by_day: dict[int, list[OpeningHours]] = {}
    for h in hours:
        by_day.setdefault(h.weekday, []).append(h)
    step = timedelta(minutes=resource.slot_minutes)
    length = step * units
    starts: list[datetime] = []
    day = start.astimezone(zone).date()
    while datetime.combine(day, datetime.min.time(), zone) < end:
        for window in by_day.get(day.weekday(), []):
            t = datetime.combine(day, window.opens, zone)
            close = datetime.combine(day, window.closes, zone)
            if window.closes <= window.opens:  # runs past midnight; 00:00-00:00 is all day
                close = datetime.combine(day + timedelta(days=1), window.closes, zone)
            while t + length <= close:
                utc = t.astimezone(UTC)
                if start <= utc and utc + length <= end:
                    starts.append(utc)
                t += step
        day += timedelta(days=1)
    return starts


def open_slots(
    session: Session,
    *,
    procedure_code: str,
    start: datetime,
    end: datetime,
    now: datetime,
    site_code: str | None = None,
) -> list[Slot]:
    """Free slots that fit the procedure on any resource of its modality, soonest first."""
    checks = Checks()
    checks.require(end > start, "to", IssueCode.INVALID_RANGE, "must be after `from`")
    checks.require(
        end - start <= timedelta(days=MAX_SLOT_SEARCH_DAYS),
        "to",
        IssueCode.RANGE_TOO_LONG,
        f"the search window is at most {MAX_SLOT_SEARCH_DAYS} days",
    )
    checks.done()
    procedure = session.scalars(
        sa.select(Procedure).where(col(Procedure.code) == procedure_code)
    ).first()
    if procedure is None:
        raise ValidationFailed(
            [
                FieldIssue(
                    "procedure_code",
                    IssueCode.NOT_FOUND,
                    f"procedure {procedure_code} does not exist",
                )
            ]
        )
    query = (
        sa.select(ModalityResource, Site)
        .join(Site, col(Site.id) == col(ModalityResource.site_id))
        .where(
            col(ModalityResource.modality) == procedure.modality,
            col(ModalityResource.active).is_(True),
        )
    )
    if site_code:
        query = query.where(col(Site.code) == site_code)
    start = max(start, now + timedelta(seconds=1))  # a slot must start after now to be booked
    slots: list[Slot] = []
    for resource, site in session.execute(query):
        assert resource.id is not None
        units = _units(resource, procedure)
        taken = set(
            session.scalars(
                sa.select(col(SlotClaim.slot_start)).where(
                    col(SlotClaim.resource_id) == resource.id,
                    col(SlotClaim.slot_start) >= start,
                    col(SlotClaim.slot_start)
                    < end + timedelta(minutes=resource.slot_minutes * units),
                )
            )
        )
        step = timedelta(minutes=resource.slot_minutes)
        hours = list(
            session.scalars(
                sa.select(OpeningHours).where(col(OpeningHours.resource_id) == resource.id)
            )
        )
        for begin in _candidate_starts(hours, resource, site, start, end, units):
            if all(begin + step * k not in taken for k in range(units)):
                slots.append(
                    Slot(pk(resource), resource.code, pk(site), begin, begin + step * units)
                )
    slots.sort(key=lambda s: (s.starts_at, s.resource_code))
    return slots[:MAX_SLOTS]


@dataclass(frozen=True)
class _Booking:
    """A checked slot: what booking it needs, looked up before anything is written."""

    resource: ModalityResource
    procedure: Procedure
    starts_at: datetime
    units: int
    step: timedelta


def _check_slot(uow: UnitOfWork, exam: Exam, resource_code: str, starts_at: datetime) -> _Booking:
    resource = find_by(
        uow,
        ModalityResource,
        "code",
        resource_code,
        entity="modality resource",
        field="resource_code",
    )
    procedure = uow.department.get(Procedure, exam.procedure_id)
    site = uow.department.get(Site, resource.site_id)
    assert procedure is not None and site is not None and resource.id is not None
    checks = Checks()
    checks.require(
        resource.modality == procedure.modality,
        "resource_code",
        IssueCode.WRONG_MODALITY,
        f"{resource.code} is a {resource.modality.value} resource; the exam needs "
        f"{procedure.modality.value}",
    )
    checks.require(starts_at > uow.now, "starts_at", IssueCode.IN_PAST, "must be in the future")
    checks.done()
    units = _units(resource, procedure)
    step = timedelta(minutes=resource.slot_minutes)
    hours = uow.department.opening_hours(pk(resource))
    fits = _candidate_starts(hours, resource, site, starts_at, starts_at + step * units, units)
    if starts_at not in fits:
        raise ValidationFailed(
            [
                FieldIssue(
                    "starts_at",
                    IssueCode.OUTSIDE_OPENING_HOURS,
                    f"{resource.code} has no {units * resource.slot_minutes}-minute slot starting "
                    f"at {starts_at.isoformat()} (opening hours and the "
                    f"{resource.slot_minutes}-minute grid)",
                )
            ]
        )
    return _Booking(resource, procedure, starts_at, units, step)


def _claim(uow: UnitOfWork, actor: Actor, exam: Exam, booking: _Booking) -> Appointment:
    resource, starts_at, units, step = (
        booking.resource,
        booking.starts_at,
        booking.units,
        booking.step,
    )
    appointment = Appointment(
        exam_id=pk(exam),
        resource_id=pk(resource),
        starts_at=starts_at,
        ends_at=starts_at + step * units,
        status=AppointmentStatus.BOOKED,
        booked_at=uow.now,
        booked_by=actor.id,
    )
    uow.add(appointment)
    uow.flush()  # with the exam's change, if any: the claims need the appointment's id
    starts = [starts_at + step * k for k in range(units)]
    if not uow.appointments.claim_slots(pk(resource), starts, pk(appointment)):
        raise SlotTaken(resource_code=resource.code, starts_at=starts_at)
    _queue_booking_messages(uow, exam, appointment, booking.procedure)
    return appointment


def _notify(
    uow: UnitOfWork,
    exam: Exam,
    template: NotificationTemplate,
    send_at: datetime,
    payload: Mapping[str, object],
    *,
    recipient_kind: str = "patient",
    recipient_id: int | None = None,
    channel: NotificationChannel = NotificationChannel.SMS,
) -> None:
    uow.append(
        Notification,
        {
            "exam_id": exam.id,
            "recipient_kind": recipient_kind,
            "recipient_id": recipient_id if recipient_id is not None else exam.patient_id,
            "channel": channel,
            "template": template,
            "send_at": send_at,
            "status": NotificationStatus.QUEUED,
            "created_at": uow.now,
            "payload": dict(payload),
        },
    )


def _queue_booking_messages(
    uow: UnitOfWork, exam: Exam, appointment: Appointment, procedure: Procedure
) -> None:
    when = {"startsAt": appointment.starts_at.isoformat(), "accession": exam.accession_number}
    _notify(uow, exam, NotificationTemplate.APPOINTMENT_CONFIRMATION, uow.now, when)
    _notify(
        uow,
        exam,
        NotificationTemplate.APPOINTMENT_REMINDER,
        max(uow.now, appointment.starts_at - REMINDER_BEFORE),
        when,
    )
    if procedure.prep_protocol_id is not None:
        _notify(
            uow,
            exam,
            NotificationTemplate.PREP_INSTRUCTIONS,
            uow.now,
            {**when, "protocolId": procedure.prep_protocol_id},
            channel=NotificationChannel.EMAIL,
        )


def current_appointment(uow: UnitOfWork, exam_id: int) -> Appointment | None:
    """The exam's live appointment (booked, confirmed or arrived), if any."""
    return uow.appointments.live(exam_id)


def _release(
    uow: UnitOfWork, appointment: Appointment, status: AppointmentStatus, reason: str | None
) -> None:
    appointment.status = status
    appointment.cancelled_at, appointment.cancelled_reason = uow.now, reason
    uow.appointments.free_slots(pk(appointment))


def schedule_exam(
    *,
    uow: UnitOfWork,
    actor: Actor,
    exam_id: int,
    resource_code: str,
    starts_at: datetime,
    expected_version: int | None = None,
) -> Appointment:
    """Book the exam on a resource; the slot claim makes a double booking impossible."""
    exam = load_exam(uow, exam_id, expected_version=expected_version)
    ensure_step_permitted(exam, Step.SCHEDULE, actor)  # status and role before the slot
    booking = _check_slot(uow, exam, resource_code, starts_at)
    # The slot is checked before the exam changes, so the change is written with the booking.
    transition(
        exam, Step.SCHEDULE, actor=actor, at=uow.now, facts=GuardFacts(uow, exam), recorder=uow
    )
    return _claim(uow, actor, exam, booking)


def reschedule_exam(
    *,
    uow: UnitOfWork,
    actor: Actor,
    exam_id: int,
    resource_code: str,
    starts_at: datetime,
    reason: str,
    expected_version: int | None = None,
) -> Appointment:
    """Move the appointment (or rebook a no-show); the old slot is freed."""
    checks = Checks()
    checks.text(reason, "reason", max_length=500)
    checks.done()
    exam = load_exam(uow, exam_id, expected_version=expected_version)
    ensure_step_permitted(exam, Step.RESCHEDULE, actor)  # status and role before the slot
    old = current_appointment(uow, exam_id)
    if old is not None:
        _release(uow, old, AppointmentStatus.RESCHEDULED, reason)
    cancel_booking_messages(
        uow, exam_id, f"rescheduled: {reason}"
    )  # the new booking queues its own
    # As in schedule_exam: the slot is checked before the exam changes, so the change is
    # written once, with the booking.
    booking = _check_slot(uow, exam, resource_code, starts_at)
    transition(
        exam,
        Step.RESCHEDULE,
        actor=actor,
        at=uow.now,
        facts=GuardFacts(uow, exam),
        recorder=uow,
        reason=reason,
    )
    return _claim(uow, actor, exam, booking)


def confirm_appointment(*, uow: UnitOfWork, actor: Actor, exam_id: int) -> Appointment:
    """The patient confirmed they will come."""
    require_role(actor, {Role.PATIENT, Role.SCHEDULER, Role.ADMIN}, "confirm appointments")
    exam = load_exam(uow, exam_id)
    appointment = current_appointment(uow, exam_id)
    if exam.status != ExamStatus.SCHEDULED or appointment is None:
        raise ValidationFailed(
            [
                FieldIssue(
                    "exam_id", IssueCode.NOT_SCHEDULED, "the exam has no appointment to confirm"
                )
            ]
        )
    if appointment.confirmed_at is None:
        appointment.confirmed_at = uow.now
        appointment.status = AppointmentStatus.CONFIRMED
        assert appointment.id is not None
        uow.emit(
            ev.AppointmentConfirmed(
                at=uow.now,
                actor=actor.id,
                role=actor.role,
                exam_id=exam_id,
                appointment_id=appointment.id,
            )
        )
    return appointment


def cancel_exam(
    *, uow: UnitOfWork, actor: Actor, exam_id: int, reason: str, expected_version: int | None = None
) -> Exam:
    """Cancel before acquisition starts; the slot is freed and the patient told."""
    checks = Checks()
    checks.text(reason, "reason", max_length=500)
    checks.done()
    exam = load_exam(uow, exam_id, expected_version=expected_version)
    transition(
        exam,
        Step.CANCEL,
        actor=actor,
        at=uow.now,
        facts=GuardFacts(uow, exam),
        recorder=uow,
        reason=reason,
    )
    appointment = current_appointment(uow, exam_id)
    cancel_booking_messages(uow, exam_id, f"cancelled: {reason}")
    if appointment is not None:
        _release(uow, appointment, AppointmentStatus.CANCELLED, reason)
        _notify(
            uow,
            exam,
            NotificationTemplate.APPOINTMENT_CANCELLED,
            uow.now,
            {"accession": exam.accession_number, "reason": reason},
        )
    return exam


def mark_no_show(
    *,
    uow: UnitOfWork,
    actor: Actor,
    exam_id: int,
    reason: str | None = None,
    expected_version: int | None = None,
) -> Exam:
    """The patient did not come to the appointment."""
    exam = load_exam(uow, exam_id, expected_version=expected_version)
    appointment = current_appointment(uow, exam_id)
    if appointment is not None and appointment.starts_at > uow.now:
        raise ValidationFailed(
            [
                FieldIssue(
                    "exam_id",
                    IssueCode.APPOINTMENT_NOT_STARTED,
                    "a no-show can be recorded once the slot has begun",
                )
            ]
        )
    transition(
        exam,
        Step.MARK_NO_SHOW,
        actor=actor,
        at=uow.now,
        facts=GuardFacts(uow, exam),
        recorder=uow,
        reason=reason,
    )
    if appointment is not None:
        appointment.status = AppointmentStatus.NO_SHOW
    return exam


def check_in(
    *, uow: UnitOfWork, actor: Actor, exam_id: int, expected_version: int | None = None
) -> Exam:
    """The patient arrived (STAT and ED exams may arrive without an appointment)."""
    exam = load_exam(uow, exam_id, expected_version=expected_version)
    appointment = current_appointment(uow, exam_id)  # read before the change is written
    transition(
        exam, Step.CHECK_IN, actor=actor, at=uow.now, facts=GuardFacts(uow, exam), recorder=uow
    )
    if appointment is not None:
        appointment.status = AppointmentStatus.ARRIVED
    return exam
