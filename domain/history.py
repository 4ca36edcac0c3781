"""An exam's append-only status history, written from the command's status events.

Every status change emits exactly one `ExamStatusChanged` event (domain/lifecycle.py, and the
order itself in domain/services/orders.py), and that event holds everything the history row
records. So the history is not staged separately: the unit of work turns the committed
command's status events into history rows, in the same transaction as the change and its
outbox rows. One source for both, and one Core INSERT per command instead of an ORM object
per row (the ORM's flush of a row it will never read again cost more than the row).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from domain import events as ev
from domain.prepared import PreparedStatement
from domain.tables import EXAM_HISTORY

HISTORY_COLUMNS = ("exam_id", "from_status", "to_status", "event", "actor", "role", "at", "reason")
_INSERT = PreparedStatement(sa.insert(EXAM_HISTORY), HISTORY_COLUMNS)


def history_rows(events: Sequence[ev.DomainEvent]) -> list[dict[str, Any]]:
    """The history rows of the status changes among `events`, in the order they happened."""
    return [
        {
            "exam_id": event.exam_id,
            "from_status": event.from_status,
            "to_status": event.to_status,
            "event": event.event_type,
            "actor": event.actor,
            "role": event.role,
            "at": event.at,
            "reason": event.reason,
        }
        for event in events
        if isinstance(event, ev.ExamStatusChanged)
    ]


def insert_history(connection: sa.Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Insert history rows (`history_rows`) in the connection's transaction."""
    _INSERT.execute(connection, rows)
