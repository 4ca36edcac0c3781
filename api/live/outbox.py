"""Reading the outbox: what is after an id, how far publishing lags, how far it was published."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session
from sqlmodel import col, select

from api.live.events import LiveEvent
from application.pruning import prune_outbox
from domain.db import Database, UnitOfWork
from domain.models._columns import core_table
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


RELAY_CURSOR = "radflow:live-relay"  # the relay's row among the outbound cursors


async def prune(db: Database, *, before: datetime, through: int | None = None) -> int:
    """Delete published events older than `before` (the clock's retention job does this);
    how many went. See application.pruning.prune_outbox."""
    return await db.run(lambda uow: prune_outbox(uow, before=before, through=through))


async def record_published(db: Database, position: int) -> None:
    """Record that events up to `position` were published to the broker, so pruning waits
    for them; the recorded position only moves forward (replicas' relays share the stream)."""

    def command(uow: UnitOfWork) -> None:
        dialect = uow.session.get_bind().dialect.name
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        cursors = core_table(OutboundCursor)
        statement = insert(cursors).values(
            destination=RELAY_CURSOR,
            protocol="BROKER",
            position=position,
            attempts=0,
            delivered=0,
            updated_at=uow.now,
        )
        uow.session.execute(
            statement.on_conflict_do_update(
                index_elements=["destination"],
                set_={"position": statement.excluded.position, "updated_at": uow.now},
                where=cursors.c.position < statement.excluded.position,
            )
        )

    await db.run(command)


async def pruned_through(db: Database) -> int:
    """The newest event id pruning has taken (0: none yet)."""

    def query(session: Session) -> int:
        return int(session.scalar(sa.select(col(OutboxPruned.through))) or 0)

    return await db.read(query, bounded=True)
