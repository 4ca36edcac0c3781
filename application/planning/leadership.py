"""Which replica runs the balancer: elections, a lease, fencing tokens, stepping down.

Several API replicas share one PostgreSQL database; exactly one of them may re-plan. Three
mechanisms make that so, whatever state a stalled leader is in:

* **A lease**: the one-row `balancer_leadership` table (`domain.models.BalancerLeadership`)
  names the leader and says until when it holds the balancer (`lease_expires_at`, on the
  database's clock, so the replicas' clocks never matter). The leader renews it on a connection
  of its own several times per lease; a follower takes it over by one conditional upsert once it
  has expired, or at once when the holder's session is gone (the leader died). A leader that
  stops renewing (paused, hung, partitioned) loses the balancer when its lease expires, and
  knows it by its own monotonic clock: it stops leading when a lease's worth of time has passed
  since its last renewal was sent, without asking anyone.
* **Bounded transactions**: nothing a stalled leader holds may outlive its lease. The lease
  connection never sits in a transaction (and PostgreSQL ends it if it does), and every plan
  commit runs with `idle_in_transaction_session_timeout`, `statement_timeout` and `lock_timeout`
  of one lease (`check_epoch`), so PostgreSQL ends a commit its client stopped driving, with its
  share lock on the leadership row and its row locks on the reads.
* **Fencing**: each election raises the epoch. A plan is committed only in a transaction that
  reads the row under a share lock and finds the epoch its runner was elected with
  (`check_epoch`). An election waits for such a commit to finish (or be ended), and after it
  every commit of an older epoch is refused. So a deposed leader whose solve was still in
  flight, or who was paused mid-commit, can never commit a plan next to its successor.

On SQLite (the embedded, single-process default) the process simply leads: `SoleLeadership`
takes a new epoch when it starts, and the same fence refuses the plans of a second process that
was (wrongly) started on the same file before it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable, Coroutine
from datetime import datetime
from typing import TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from domain.db import Database
from domain.models import BalancerLeadership
from domain.models._columns import core_table

log = logging.getLogger("radflow.application.planning.leadership")

LEASE = core_table(BalancerLeadership)

Elected = Callable[[int], None]
T = TypeVar("T")


class NotLeader(Exception):
    """This replica does not run the balancer (another one does)."""


class Deposed(Exception):
    """A plan commit was refused: a newer leader was elected after this runner's epoch."""

    def __init__(self, epoch: int, current: int | None) -> None:
        super().__init__(
            f"balancer epoch {epoch} was superseded by epoch {current}: the plan was not committed"
        )
        self.epoch = epoch
        self.current = current


def default_replica_id() -> str:
    """A name for this process: host and pid."""
    return f"{socket.gethostname()}:{os.getpid()}"


def elect(connection: sa.Connection, replica: str, now: datetime) -> int:
    """Raise the epoch by one and record `replica` as the leader; returns the new epoch."""
    insert = pg_insert if connection.dialect.name == "postgresql" else sqlite_insert
    statement = insert(LEASE).values(
        id=1, epoch=1, replica=replica[:200], elected_at=now, lease_expires_at=None, holder_pid=None
    )
    upsert = statement.on_conflict_do_update(
        index_elements=[LEASE.c.id],
        set_={
            "epoch": LEASE.c.epoch + 1,
            "replica": statement.excluded.replica,
            "elected_at": statement.excluded.elected_at,
            "lease_expires_at": None,
            "holder_pid": None,
        },
    )
    return int(connection.execute(upsert.returning(LEASE.c.epoch)).scalar_one())


def check_epoch(session: Session, epoch: int, *, lease_seconds: float | None = None) -> None:
    """Refuse (raise `Deposed`) unless `epoch` is still the current one; holds a share lock on
    the leadership row until the transaction ends, so no election can interleave.

    With `lease_seconds` (PostgreSQL), the rest of the transaction is bounded by one lease:
    PostgreSQL ends it if its client stops sending (paused mid-commit), a statement runs or
    waits for a lock longer, so the share lock never holds off the next election for longer.
    """
    if lease_seconds is not None and session.get_bind().dialect.name == "postgresql":
        bound = max(1, round(lease_seconds * 1000))
        for setting in ("idle_in_transaction_session_timeout", "statement_timeout", "lock_timeout"):
            # SET LOCAL takes no bind parameters; `bound` is an int computed here.
            session.execute(sa.text(f"SET LOCAL {setting} = {bound}"))
    current = session.execute(
        sa.select(LEASE.c.epoch).where(LEASE.c.id == 1).with_for_update(read=True)
    ).scalar_one_or_none()
    if current != epoch:
        raise Deposed(epoch, current)


def current_leader(session: Session) -> BalancerLeadership | None:
    """The last elected leader, as recorded (it may have died since; see the metrics)."""
    return session.get(BalancerLeadership, 1)


class Leadership(ABC):
    """Whether this replica runs the balancer now, and under which epoch."""

    # How long one term lasts without renewal, bounding each plan commit too (None: no lease).
    lease_seconds: float | None = None

    def __init__(self, replica: str) -> None:
        self.replica = replica
        self._epoch: int | None = None
        # The monotonic time this replica's leadership lapses unless renewed (see the lease).
        self._valid_until = float("inf")
        self._listeners: list[Elected] = []

    @property
    def epoch(self) -> int | None:
        """The epoch this replica leads under, or None while it does not lead (also once its
        lease has run out on its own clock, renewed or not)."""
        if self._epoch is None or time.monotonic() >= self._valid_until:
            return None
        return self._epoch

    @property
    def leading(self) -> bool:
        """Whether this replica runs the balancer now."""
        return self.epoch is not None

    def on_elected(self, listener: Elected) -> None:
        """Call `listener(epoch)` each time this replica is elected."""
        self._listeners.append(listener)

    def _elected(self, epoch: int) -> None:
        self._epoch = epoch
        log.info("replica %s leads the balancer (epoch %d)", self.replica, epoch)
        for listener in self._listeners:
            listener(epoch)

    def step_down(self, epoch: int) -> None:
        """Stop leading under `epoch` (a commit under it was refused)."""
        if self._epoch == epoch:
            log.warning(
                "replica %s was deposed (epoch %d): stops running the balancer", self.replica, epoch
            )
            self._epoch = None

    @abstractmethod
    async def start(self) -> None:
        """Begin leading or campaigning (from the running event loop)."""

    @abstractmethod
    async def stop(self) -> None:
        """Stop leading and release leadership."""

    @contextlib.asynccontextmanager
    async def lead_once(self) -> AsyncIterator[int]:
        """Lead for one explicitly requested run: the epoch to commit under, or `NotLeader`."""
        if self._epoch is None:
            raise NotLeader(f"replica {self.replica} does not run the balancer now")
        yield self._epoch


class SoleLeadership(Leadership):
    """The embedded (SQLite, single-process) deployment: the process leads from its start."""

    def __init__(self, db: Database, replica: str) -> None:
        super().__init__(replica)
        self.db = db

    async def start(self) -> None:
        """Take a new epoch (on the loop thread: one short SQLite write)."""
        engine = self.db.sync_engine
        if engine is None:
            raise RuntimeError("SoleLeadership is for the embedded SQLite backend")
        with engine.begin() as connection:
            epoch = elect(connection, self.replica, self.db.clock())
        self._elected(epoch)

    async def stop(self) -> None:
        """Nothing is held: the next process to start takes a newer epoch."""
        self._epoch = None


class LeaseLeadership(Leadership):
    """PostgreSQL: lead while holding the lease row, renewed on a dedicated connection."""

    def __init__(
        self, db: Database, replica: str, *, poll_seconds: float = 1.0, lease_seconds: float = 5.0
    ) -> None:
        super().__init__(replica)
        self.db = db
        self.poll_seconds = poll_seconds
        self.lease = lease_seconds
        self.lease_seconds = lease_seconds  # what the runner bounds each plan commit by
        # Several renewals per lease, so one slow renewal does not lose the balancer.
        self.renew_seconds = min(poll_seconds, lease_seconds / 3)
        # Its own engine without a pool: the lease is renewed on exactly one connection, which
        # no request ever borrows (so no request can hold it up) and no pool recycles.
        self._engine: AsyncEngine = create_async_engine(db.url, poolclass=NullPool)
        self._stopping = False
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Campaign in the background; leads as soon as the lease is free."""
        self._task = asyncio.get_running_loop().create_task(self._campaign())

    async def stop(self) -> None:
        """Step down, end the lease (followers take over at their next poll) and close."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
        await self._engine.dispose()

    def step_down(self, epoch: int) -> None:
        """Stop leading under `epoch` and let go of the lease."""
        super().step_down(epoch)
        self._wake.set()

    async def _campaign(self) -> None:
        while not self._stopping:
            try:
                async with self._engine.connect() as connection:
                    await _bounded_session(connection, self.lease)
                    while not self._stopping:
                        term = await self._bounded(self._take(connection))
                        if term is not None:
                            await self._lead(connection, *term)
                            break  # a fresh connection for the next term
                        await self._pause(self.poll_seconds)
            except Exception as exc:  # database away or too slow: lose leadership, campaign
                if self._epoch is not None:
                    log.warning("replica %s lost its lease connection: %r", self.replica, exc)
                else:
                    log.debug("leadership campaign: %r", exc)
                self._epoch = None
                await self._pause(self.poll_seconds)

    async def _take(self, connection: AsyncConnection) -> tuple[int, float] | None:
        """Take the lease if it is free: (the new epoch, when the term lapses), or None."""
        sent = time.monotonic()
        replica, now, lease = self.replica, self.db.clock(), self.lease
        epoch = await connection.run_sync(lambda c: take_lease(c, replica, now, lease))
        await connection.commit()
        return None if epoch is None else (epoch, sent + lease)

    async def _lead(self, connection: AsyncConnection, epoch: int, valid_until: float) -> None:
        self._wake.clear()
        if valid_until - time.monotonic() < self.lease - self.renew_seconds:
            # The election waited (for a stalled commit's lock to go): this replica's own
            # reckoning of the term counts from before that wait, so renew it at once.
            sent = time.monotonic()
            if not await self._bounded(self._renew(connection, epoch)):
                return
            valid_until = sent + self.lease
        self._valid_until = valid_until
        self._elected(epoch)
        try:
            while not self._stopping and self._epoch == epoch:
                await self._pause(self.renew_seconds)
                if self._stopping or self._epoch != epoch:
                    break
                sent = time.monotonic()
                try:
                    renewed = await self._bounded(self._renew(connection, epoch))
                except Exception as exc:
                    log.warning(
                        "replica %s could not renew the lease of epoch %d (%r): stops "
                        "running the balancer",
                        self.replica,
                        epoch,
                        exc,
                    )
                    raise
                if not renewed:
                    log.warning(
                        "replica %s lost the lease of epoch %d: stops running the balancer",
                        self.replica,
                        epoch,
                    )
                    break
                self._valid_until = sent + self.lease
        finally:
            self._epoch = None
            self._valid_until = float("inf")
        with contextlib.suppress(Exception):  # the lease runs out by itself if this fails
            await self._bounded(self._release(connection, epoch))
        log.info("replica %s released the balancer (epoch %d)", self.replica, epoch)

    async def _renew(self, connection: AsyncConnection, epoch: int) -> bool:
        renewed = await connection.run_sync(lambda c: renew_lease(c, epoch, self.lease))
        await connection.commit()
        return renewed

    async def _release(self, connection: AsyncConnection, epoch: int) -> None:
        await connection.run_sync(lambda c: release_lease(c, epoch))
        await connection.commit()

    async def _bounded(self, step: Coroutine[object, object, T]) -> T:
        # A connection that stopped answering (a partition without FIN) must not hang the
        # campaign: give up and start again on a new connection. (PostgreSQL's own timeouts
        # on the session, one lease, end a statement stuck on a lock before this does.)
        return await asyncio.wait_for(step, timeout=self.lease + self.poll_seconds)

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=seconds)
        self._wake.clear()

    @contextlib.asynccontextmanager
    async def lead_once(self) -> AsyncIterator[int]:
        """Lead for one run when nobody else does (a replica with the balancer turned off)."""
        epoch = self.epoch
        if epoch is not None:
            yield epoch
            return
        async with self._engine.connect() as connection:
            await _bounded_session(connection, self.lease)
            term = await self._take(connection)
            if term is None:
                raise NotLeader(f"another replica runs the balancer (not {self.replica})")
            try:
                yield term[0]
            finally:
                await self._release(connection, term[0])


def take_lease(
    connection: sa.Connection, replica: str, now: datetime, lease_seconds: float
) -> int | None:
    """Become the leader if the lease is free: expired, released, or held by a session that is
    gone. Returns the new epoch, or None while another replica holds the lease.

    One statement: concurrent candidates queue on the row and each re-reads it after the one
    before commits, so exactly one of them wins a free lease.
    """
    statement = pg_insert(LEASE).values(
        id=1,
        epoch=1,
        replica=replica[:200],
        elected_at=now,
        lease_expires_at=_lease_end(lease_seconds),
        holder_pid=sa.func.pg_backend_pid(),
    )
    # (Text: SQLAlchemy does not correlate a subquery into ON CONFLICT's WHERE.)
    gone = sa.text(
        "NOT EXISTS (SELECT 1 FROM pg_stat_activity AS a "
        "WHERE a.pid = balancer_leadership.holder_pid)"
    )
    upsert = statement.on_conflict_do_update(
        index_elements=[LEASE.c.id],
        set_={
            "epoch": LEASE.c.epoch + 1,
            "replica": statement.excluded.replica,
            "elected_at": statement.excluded.elected_at,
            "lease_expires_at": statement.excluded.lease_expires_at,
            "holder_pid": statement.excluded.holder_pid,
        },
        where=sa.or_(
            LEASE.c.lease_expires_at.is_(None),
            LEASE.c.lease_expires_at <= sa.func.clock_timestamp(),
            LEASE.c.holder_pid.is_(None),
            gone,
        ),
    )
    epoch = connection.execute(upsert.returning(LEASE.c.epoch)).scalar_one_or_none()
    return None if epoch is None else int(epoch)


def renew_lease(connection: sa.Connection, epoch: int, lease_seconds: float) -> bool:
    """Extend the lease of `epoch` by one lease from now; False when it is no longer ours."""
    renewed = connection.execute(
        sa.update(LEASE)
        .where(LEASE.c.id == 1, LEASE.c.epoch == epoch)
        .values(lease_expires_at=_lease_end(lease_seconds))
        .returning(LEASE.c.epoch)
    ).first()
    return renewed is not None


def _lease_end(lease_seconds: float) -> sa.ColumnElement[datetime]:
    # The database's clock, not this replica's: replicas' clocks may disagree.
    seconds = sa.cast(lease_seconds, sa.Float)
    return sa.func.clock_timestamp() + sa.func.make_interval(0, 0, 0, 0, 0, 0, seconds)


def release_lease(connection: sa.Connection, epoch: int) -> None:
    """End the lease of `epoch` now, if it is still ours (the next poll of a follower wins)."""
    connection.execute(
        sa.update(LEASE)
        .where(LEASE.c.id == 1, LEASE.c.epoch == epoch)
        .values(lease_expires_at=sa.func.clock_timestamp(), holder_pid=None)
    )


async def _bounded_session(connection: AsyncConnection, lease_seconds: float) -> None:
    # Nothing on this connection may hold a lock past one lease: PostgreSQL ends the session
    # if it ever sits in a transaction (a paused leader), and no statement waits longer.
    # Server-side TCP keepalives end it when the client vanished without a FIN (a partition),
    # which frees the lease at once (its holder's session is gone) instead of at its expiry.
    bound = max(1, round(lease_seconds * 1000))
    for statement in (
        f"SET idle_in_transaction_session_timeout = {bound}",
        f"SET statement_timeout = {bound}",
        f"SET lock_timeout = {bound}",
        "SET tcp_keepalives_idle = 2",
        "SET tcp_keepalives_interval = 2",
        "SET tcp_keepalives_count = 3",
        f"SET tcp_user_timeout = {bound}",
    ):
        await connection.execute(sa.text(statement))
    await connection.commit()


def leadership_for(
    db: Database, *, replica: str | None, poll_seconds: float, lease_seconds: float = 5.0
) -> Leadership:
    """Sole leadership on SQLite, a lease on PostgreSQL."""
    name = replica or default_replica_id()
    if db.is_sqlite:
        return SoleLeadership(db, name)
    return LeaseLeadership(db, name, poll_seconds=poll_seconds, lease_seconds=lease_seconds)
