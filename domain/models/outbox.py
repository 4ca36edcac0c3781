"""The transactional outbox: every domain event, written in the transaction that caused it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field

from domain.models._columns import document, text, when
from domain.models._row import Row


class OutboxEvent(Row, table=True):
    """One committed domain event, waiting to be (or already) published to subscribers.

    `id` is the event id subscribers see: monotonic, and (because writers take the outbox lock,
    see domain/db.py) committed in id order. `topic` names the subscription family; the other
    keys let a replay filter without reading `payload`.
    """

    __tablename__ = "event_outbox"
    # AUTOINCREMENT on SQLite: ids are never reused, even after pruning took the newest rows.
    __table_args__ = (
        sa.Index("ix_event_outbox_topic_id", "topic", "id"),
        {"sqlite_autoincrement": True},
    )

    id: int | None = Field(default=None, primary_key=True)
    occurred_at: datetime = when(index=True)
    type: str = text(64)
    topic: str = text(32)
    exam_id: int | None = Field(default=None, nullable=True)
    site_id: int | None = Field(default=None, nullable=True)
    modality: str | None = text(16, nullable=True)
    status: str | None = text(32, nullable=True)
    radiologist_ids: list[int] = document()
    payload: dict[str, Any] = document()


class OutboxPruned(Row, table=True):
    """How far pruning has gone (one row): events with ids up to `through` may be gone, so a
    subscription resuming from before it cannot be replayed without a gap and is refused."""

    __tablename__ = "event_outbox_pruned"

    id: int = Field(default=1, primary_key=True)
    through: int
    pruned_at: datetime = when()
