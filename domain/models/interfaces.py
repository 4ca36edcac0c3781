"""What the hospital's interfaces have sent: each accepted message once, with the answer given."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field

from domain.models._columns import document, text, when
from domain.models._row import Row


class InboundMessage(Row, table=True):
    """An accepted inbound message (HL7 v2 today), recorded in the transaction of its effect.

    A sender that did not hear the acknowledgement sends the same message again (same sending
    application and message control id): it gets the recorded acknowledgement back and nothing
    happens twice. A refused message is not recorded (nothing of it was written), so a corrected
    re-send is processed.
    """

    __tablename__ = "inbound_messages"
    __table_args__ = (
        sa.UniqueConstraint("protocol", "sender", "control_id", name="uq_inbound_message"),
    )

    id: int | None = Field(default=None, primary_key=True)
    protocol: str = text(16)  # HL7V2
    sender: str = text(128)  # MSH-3 sending application ^ MSH-4 sending facility
    control_id: str = text(64)  # MSH-10
    message_type: str = text(16)  # MSH-9, e.g. ORM^O01
    received_at: datetime = when()
    acknowledgement: str = Field(sa_column=sa.Column(sa.Text(), nullable=False))


class OutboundCursor(Row, table=True):
    """How far one outbound destination has been sent the department's events.

    `position` is the last outbox event id dealt with (delivered, or not one this destination
    takes); the next message waits while `next_attempt_at` is ahead, after `attempts` failed
    tries whose last answer is `last_error`. Outbox pruning never passes the lowest position,
    so a destination that is down loses nothing.
    """

    __tablename__ = "outbound_cursors"

    destination: str = Field(primary_key=True, max_length=64)
    protocol: str = text(16)
    position: int = 0
    attempts: int = 0
    next_attempt_at: datetime | None = when(nullable=True)
    last_error: str | None = text(500, nullable=True)
    delivered: int = 0
    updated_at: datetime = when()


class FhirSubscription(Row, table=True):
    """A FHIR R4 REST-hook subscription: which changes (`criteria`, a search on DiagnosticReport
    or ServiceRequest) are posted where, on behalf of whom.

    The owner's role, sites and PHI grant are kept from the token that created it: every
    notification is built as that owner may see it, at the time it is sent. Its delivery
    position is an `OutboundCursor` named `FHIR/Subscription/<id>`, so outbox pruning waits for
    it like for any other destination.
    """

    __tablename__ = "fhir_subscriptions"

    id: int | None = Field(default=None, primary_key=True)
    owner: str = text(64)
    role: str = text(32)
    phi: bool = False
    sites: list[str] = document()
    criteria: str = text(500)
    endpoint: str = text(500)
    headers: list[str] = document()
    payload: str | None = text(64, nullable=True)  # None: an empty POST (the change only)
    status: str = text(16)  # active, error (delivery failing, still retried), off
    error: str | None = text(500, nullable=True)
    created_at: datetime = when()


class ScheduledWork(Row, table=True):
    """One kind of timed work (escalations, notification delivery, ...) and when it runs next.

    Every replica's clock (application/clock.py) claims the rows that are due, so each run
    happens on one replica; a claim lapses at `claimed_until`, so a replica killed mid-run
    leaves the work to the next one. The due time lives here, not in a process's memory: work
    that came due while nothing ran runs once when something does.
    """

    __tablename__ = "scheduled_work"

    kind: str = Field(primary_key=True, max_length=32)
    due_at: datetime = when()
    every_seconds: float
    claimed_by: str | None = text(128, nullable=True)
    claimed_until: datetime | None = when(nullable=True)
    last_started_at: datetime | None = when(nullable=True)
    last_finished_at: datetime | None = when(nullable=True)
    last_outcome: str | None = text(500, nullable=True)
    runs: int = 0
    failures: int = 0
