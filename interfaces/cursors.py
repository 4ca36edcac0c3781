"""An outbound interface's place in the outbox: one `outbound_cursors` row per destination.

Every outbound interface (HL7 v2 destinations, FHIR REST-hook subscriptions) walks the outbox
in event order from its cursor, and sends each event as its own message builder says. The
cursor moves only past what the destination took; a refusal, an error or no answer holds it,
and the same event is tried again after a doubling wait (1 s, 2 s, 4 s, ... up to 5 minutes),
the cursor showing the attempts and the last error meanwhile. Outbox pruning never removes an
event a cursor has not passed (api/live/outbox.py). A new cursor starts after the newest event:
a destination is sent what happens from when it was configured.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa

from domain.db import UnitOfWork
from domain.models import OutboundCursor, OutboxEvent

BACKOFF_FIRST = timedelta(seconds=1)
BACKOFF_MOST = timedelta(minutes=5)


def backoff(attempts: int) -> timedelta:
    """How long to wait after the `attempts`-th failure in a row."""
    doubled: timedelta = BACKOFF_FIRST * 2 ** min(max(attempts, 1) - 1, 16)
    return min(BACKOFF_MOST, doubled)


def open_cursor(uow: UnitOfWork, name: str, protocol: str) -> OutboundCursor:
    """The destination's cursor; a new one starts after the newest event."""
    cursor = uow.session.get(OutboundCursor, name)
    if cursor is None:
        newest = uow.session.scalar(sa.select(sa.func.max(OutboxEvent.id))) or 0
        cursor = OutboundCursor(
            destination=name, protocol=protocol, position=int(newest), updated_at=uow.now
        )
        uow.add(cursor)
        uow.flush()
    return cursor


def held(cursor: OutboundCursor, now: datetime) -> bool:
    """Whether the destination is waiting out its backoff."""
    return cursor.next_attempt_at is not None and cursor.next_attempt_at > now


def advance(uow: UnitOfWork, name: str, position: int, *, delivered: bool) -> OutboundCursor | None:
    """Move the cursor past `position` (an event sent, or skipped when not `delivered`) and
    clear its failures; the cursor when it moved (None: gone, or already past it)."""
    cursor = uow.session.get(OutboundCursor, name, with_for_update=True)
    if cursor is None or position <= cursor.position:
        return None
    cursor.position = position
    cursor.delivered += int(delivered)
    cursor.attempts, cursor.next_attempt_at, cursor.last_error = 0, None, None
    cursor.updated_at = uow.now
    return cursor


def failed(uow: UnitOfWork, name: str, reason: str) -> OutboundCursor | None:
    """Hold the cursor where it is: one more attempt failed, the next after the backoff."""
    cursor = uow.session.get(OutboundCursor, name, with_for_update=True)
    if cursor is None:
        return None
    cursor.attempts += 1
    cursor.next_attempt_at = uow.now + backoff(cursor.attempts)
    cursor.last_error, cursor.updated_at = reason[:500], uow.now
    return cursor
