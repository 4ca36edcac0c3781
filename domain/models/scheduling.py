"""Appointments, the slot claims that make double booking impossible, and notifications."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field

from domain.enums import (
    AppointmentStatus,
    NotificationChannel,
    NotificationStatus,
    NotificationTemplate,
)
from domain.models._columns import choice, document, ref, text, when
from domain.models._row import Row
from domain.types import UTCDateTime


class Appointment(Row, table=True):
    """An exam booked on a modality resource for a time window."""

    __tablename__ = "appointments"

    id: int | None = Field(default=None, primary_key=True)
    exam_id: int = ref("exams")
    resource_id: int = ref("modality_resources")
    starts_at: datetime = when(index=True)
    ends_at: datetime = when()
    status: AppointmentStatus = choice(AppointmentStatus)
    booked_at: datetime = when()
    booked_by: str = text(64)
    confirmed_at: datetime | None = when(nullable=True)
    cancelled_at: datetime | None = when(nullable=True)  # cancelled or moved (rescheduled)
    cancelled_reason: str | None = text(500, nullable=True)


class SlotClaim(Row, table=True):
    """One slot unit of a resource held by an appointment.

    The primary key (resource, slot start) is what makes double booking impossible, on SQLite and
    PostgreSQL alike and under concurrency: a second claim of the same unit fails on insert.
    """

    __tablename__ = "appointment_slot_claims"

    resource_id: int = Field(foreign_key="modality_resources.id", primary_key=True)
    slot_start: datetime = Field(
        sa_column=sa.Column(
            "slot_start",
            UTCDateTime(),
            primary_key=True,
        )
    )
    appointment_id: int = ref("appointments")


class Notification(Row, table=True):
    """A message queued for a patient or referrer (confirmation, reminder, result, ...)."""

    __tablename__ = "notifications"

    id: int | None = Field(default=None, primary_key=True)
    exam_id: int | None = ref("exams", nullable=True)
    recipient_kind: str = text(16)
    recipient_id: int
    channel: NotificationChannel = choice(NotificationChannel)
    template: NotificationTemplate = choice(NotificationTemplate)
    send_at: datetime = when(index=True)
    status: NotificationStatus = choice(NotificationStatus, default=NotificationStatus.QUEUED)
    created_at: datetime = when()
    payload: dict[str, Any] = document()
    # Delivery (application/delivery.py): each try is counted when it is claimed, so a sender
    # killed mid-send leaves the row to be claimed again once `claimed_until` has passed.
    attempts: int = 0
    next_attempt_at: datetime | None = when(nullable=True)
    claimed_until: datetime | None = when(nullable=True)
    delivery_id: str | None = text(36, nullable=True)  # the same on every try of this message
    sent_at: datetime | None = when(nullable=True)
    failed_at: datetime | None = when(nullable=True)
    cancelled_at: datetime | None = when(nullable=True)
    last_answer: str | None = text(500, nullable=True)  # the channel adapter's last answer
