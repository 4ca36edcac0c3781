"""Reading the outbox: what is after an id, how far publishing lags, pruning old rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlmodel import col, select

from api.live.events import LiveEvent
from domain.db import Database, UnitOfWork
from domain.models.interfaces import OutboundCursor
from domain.models.outbox import OutboxEvent, OutboxPruned


async def events_after(
    db: Database, after: int, *, topic: str | None = None, limit: int = 500
) -> list[LiveEvent]:
    """Up to `limit` committed events with an id above `after`, in id order."""

    def query(session: Session) -> list[LiveEvent]:
        statement = select(OutboxEvent).where(col(OutboxEvent.id) > after)
        if topic is not None:
            statement = statement.where(col(OutboxEvent.topic) == topic)
        rows = session.scalars(statement.order_by(col(OutboxEvent.id)).limit(limit))
        return [LiveEvent.from_row(row) for row in rows]

    return await db.read(query, bounded=limit <= 100)


async def last_event_id(db: Database) -> int:
    """The newest committed event id (0 on an empty outbox)."""

    def query(session: Session) -> int:
        return int(session.scalar(sa.select(sa.func.max(OutboxEvent.id))) or 0)

    return await db.read(query, bounded=True)


@dataclass(frozen=True)
class Lag:
    """Committed events not yet published, and the time of the oldest."""

    events: int
    oldest_at: datetime | None


async def lag_after(db: Database, published_through: int) -> Lag:
    """How many events after `published_through` wait, and since when."""

    def query(session: Session) -> Lag:
        count, oldest = session.execute(
            sa.select(sa.func.count(), sa.func.min(OutboxEvent.occurred_at)).where(
                col(OutboxEvent.id) > published_through
            )
        ).one()
        return Lag(events=int(count), oldest_at=oldest)

    return await db.read(query, bounded=True)


async def prune(db: Database, *, before: datetime, through: int) -> int:
    """Delete published events older than `before`; how many went. The newest id pruned is
    recorded with them (`OutboxPruned`): resuming from before it would leave a gap."""

    def command(uow: UnitOfWork) -> int:
        # Never past an outbound interface that has not sent them yet (a destination down).
        held = uow.session.scalar(sa.select(sa.func.min(OutboundCursor.position)))
        last = through if held is None else min(through, int(held))
        doomed = (col(OutboxEvent.occurred_at) < before, col(OutboxEvent.id) <= last)
        newest = uow.session.scalar(sa.select(sa.func.max(OutboxEvent.id)).where(*doomed))
        if newest is None:
            return 0
        result = uow.session.execute(sa.delete(OutboxEvent).where(*doomed))
        mark = uow.session.get(OutboxPruned, 1, with_for_update=True)
        if mark is None:
            uow.add(OutboxPruned(id=1, through=newest, pruned_at=uow.now))
        elif mark.through < newest:
            mark.through, mark.pruned_at = newest, uow.now
        assert isinstance(result, sa.CursorResult)  # a DELETE's result
        return int(result.rowcount)

    return await db.run(command)


async def pruned_through(db: Database) -> int:
    """The newest event id pruning has taken (0: none yet)."""

    def query(session: Session) -> int:
        return int(session.scalar(sa.select(col(OutboxPruned.through))) or 0)

    return await db.read(query, bounded=True)
