"""Retention of operational rows, run by the clock: what the department no longer needs goes.

- **Outbox events** older than the outbox retention, and only those every reader has passed:
  each outbound destination (HL7), each FHIR subscription and the live relay keep a cursor in
  `outbound_cursors` (the relay records how far it published), and pruning never passes the
  lowest. The newest id pruned is recorded (`event_outbox_pruned`), so a subscription resuming
  from before it is refused rather than served with a gap.
- **Notifications** sent or cancelled longer ago than the notification retention. FAILED ones
  stay: they are the dead-letter list, until a supervisor retries them.
- **Scheduled work** that no replica has run for the scheduled-work retention: a kind of work
  no longer configured anywhere (a running kind is due again within its period).
- **Inbound messages** older than the HL7 idempotency window: a re-sent message inside the
  window gets its recorded acknowledgement back; one older than it is processed as new.

Each sweep deletes at most `BATCH` rows per table and run, so one run never holds a long
transaction; a backlog goes down run by run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from domain.db import UnitOfWork
from domain.enums import NotificationStatus
from domain.models import InboundMessage, Notification, OutboundCursor, ScheduledWork
from domain.models._columns import core_table
from domain.models.outbox import OutboxEvent, OutboxPruned

BATCH = 5000
OUTBOX, CURSORS = core_table(OutboxEvent), core_table(OutboundCursor)
NOTIFICATIONS, WORK = core_table(Notification), core_table(ScheduledWork)
INBOUND, PRUNED = core_table(InboundMessage), core_table(OutboxPruned)
DELIVERED = (NotificationStatus.SENT, NotificationStatus.CANCELLED)


@dataclass(frozen=True, slots=True)
class Retention:
    """How long each kind of operational row is kept."""

    outbox: timedelta
    notifications: timedelta
    scheduled_work: timedelta
    inbound_messages: timedelta


@dataclass(frozen=True, slots=True)
class Pruned:
    """Rows one retention run deleted, per table."""

    outbox: int
    notifications: int
    scheduled_work: int
    inbound_messages: int

    def __str__(self) -> str:
        return (
            f"pruned {self.outbox} outbox events, {self.notifications} notifications, "
            f"{self.scheduled_work} scheduled work, {self.inbound_messages} inbound messages"
        )


def prune_outbox(uow: UnitOfWork, *, before: datetime, through: int | None = None) -> int:
    """Delete outbox events older than `before` that every cursor has passed (and, if given,
    with ids up to `through`); how many went. The newest id pruned is recorded."""
    session = uow.session
    held = session.scalar(sa.select(sa.func.min(CURSORS.c.position)))
    limits = [int(v) for v in (held, through) if v is not None]
    doomed = [OUTBOX.c.occurred_at < before]
    if limits:
        doomed.append(OUTBOX.c.id <= min(limits))
    ids = sa.select(OUTBOX.c.id).where(*doomed).order_by(OUTBOX.c.id).limit(BATCH)
    newest = session.scalar(sa.select(sa.func.max(ids.subquery().c.id)))
    if newest is None:
        return 0
    # Oldest first, in id order: what is left after a batch is always above what went.
    gone = _deleted(session.execute(sa.delete(OUTBOX).where(*doomed, OUTBOX.c.id <= newest)))
    mark = session.get(OutboxPruned, 1, with_for_update=True)
    if mark is None:
        uow.add(OutboxPruned(id=1, through=newest, pruned_at=uow.now))
    elif mark.through < newest:
        mark.through, mark.pruned_at = newest, uow.now
    return gone


def prune_notifications(uow: UnitOfWork, *, before: datetime) -> int:
    """Delete notifications sent or cancelled before `before`; how many went."""
    n = NOTIFICATIONS.c
    done_at = sa.func.coalesce(n.sent_at, n.cancelled_at)
    ids = (
        sa.select(n.id)
        .where(n.status.in_(DELIVERED), done_at < before)
        .order_by(n.id)
        .limit(BATCH)
        .scalar_subquery()
    )
    return _deleted(uow.session.execute(sa.delete(NOTIFICATIONS).where(n.id.in_(ids))))


def prune_scheduled_work(uow: UnitOfWork, *, before: datetime) -> int:
    """Delete scheduled work unclaimed and due since before `before` (no replica runs it)."""
    w = WORK.c
    abandoned = sa.and_(
        w.due_at < before, sa.or_(w.claimed_until.is_(None), w.claimed_until < uow.now)
    )
    return _deleted(uow.session.execute(sa.delete(WORK).where(abandoned)))


def prune_inbound_messages(uow: UnitOfWork, *, before: datetime) -> int:
    """Delete inbound messages received before `before` (outside the idempotency window)."""
    i = INBOUND.c
    ids = (
        sa.select(i.id).where(i.received_at < before).order_by(i.id).limit(BATCH).scalar_subquery()
    )
    return _deleted(uow.session.execute(sa.delete(INBOUND).where(i.id.in_(ids))))


def prune_all(uow: UnitOfWork, retention: Retention) -> Pruned:
    """One retention run over every table (one transaction)."""
    now = uow.now
    return Pruned(
        outbox=prune_outbox(uow, before=now - retention.outbox),
        notifications=prune_notifications(uow, before=now - retention.notifications),
        scheduled_work=prune_scheduled_work(uow, before=now - retention.scheduled_work),
        inbound_messages=prune_inbound_messages(uow, before=now - retention.inbound_messages),
    )


def _deleted(result: Any) -> int:
    assert isinstance(result, sa.CursorResult)  # a DELETE's result
    return int(result.rowcount)


@dataclass(frozen=True, slots=True)
class Kept:
    """One table under retention as it stands: its rule, how many rows it holds, the oldest
    row's time, and (for the outbox) the lowest cursor holding pruning back."""

    table: str
    keep: timedelta
    rows: int
    oldest_at: datetime | None
    held_by: str | None = None
    held_at: int | None = None
    pruned_through: int | None = None


def kept(session: Session, retention: Retention) -> list[Kept]:
    """What each table under retention holds now (for operationsStatus)."""

    def summary(table: sa.Table, at: sa.ColumnElement[Any], *where: Any) -> tuple[int, Any]:
        count, oldest = session.execute(
            sa.select(sa.func.count(), sa.func.min(at)).select_from(table).where(*where)
        ).one()
        return int(count), oldest

    lowest = session.execute(
        sa.select(CURSORS.c.destination, CURSORS.c.position)
        .order_by(CURSORS.c.position, CURSORS.c.destination)
        .limit(1)
    ).first()
    pruned = session.scalar(sa.select(PRUNED.c.through))
    n = NOTIFICATIONS.c
    return [
        Kept(
            "event_outbox",
            retention.outbox,
            *summary(OUTBOX, OUTBOX.c.occurred_at),
            held_by=None if lowest is None else lowest[0],
            held_at=None if lowest is None else int(lowest[1]),
            pruned_through=None if pruned is None else int(pruned),
        ),
        Kept(
            "notifications",
            retention.notifications,
            *summary(
                NOTIFICATIONS, sa.func.coalesce(n.sent_at, n.cancelled_at), n.status.in_(DELIVERED)
            ),
        ),
        Kept("scheduled_work", retention.scheduled_work, *summary(WORK, WORK.c.due_at)),
        Kept(
            "inbound_messages", retention.inbound_messages, *summary(INBOUND, INBOUND.c.received_at)
        ),
    ]
