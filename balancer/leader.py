"""Which replica runs the balancer: elections, fencing tokens, stepping down.

Several API replicas share one PostgreSQL database; exactly one of them may re-plan. Two
mechanisms make that so:

* **Election**: a replica leads while it holds a session-level PostgreSQL advisory lock on a
  connection of its own. The lock is tied to that connection, so when the process dies (even by
  SIGKILL) the kernel closes the socket, PostgreSQL ends the session and the lock is free at
  once; followers try for it every `leader_poll_seconds`. TCP keepalives and a user timeout on
  the connection bound how long a silently vanished leader (a network partition) keeps it.
* **Fencing**: each election raises the epoch in the one-row `balancer_leadership` table (see
  `domain.models.BalancerLeadership`). A plan is committed only in a transaction that reads that
  row under a share lock and finds the epoch its runner was elected with (`check_epoch`).
  A new leader's epoch bump waits for such a commit to finish, and after the bump every commit
  of an older epoch is refused. So a deposed leader whose solve was still in flight, or whose
  lock connection died unnoticed, can never commit a plan next to its successor.

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
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from domain.db import Database
from domain.models import BalancerLeadership

log = logging.getLogger("radflow.balancer.leader")

# The advisory lock key of balancer leadership ("radflow-balancer" in spirit; any fixed bigint
# distinct from the outbox lock works). Advisory locks are per database.
LEADER_LOCK_KEY = 0x72_66_62_61_6C_61_6E  # "rfbalan"
LEASE = BalancerLeadership.__table__  # type: ignore[attr-defined]

Elected = Callable[[int], None]


class NotLeader(Exception):
    """This replica does not run the balancer (another one does)."""


class Deposed(Exception):
    """A plan commit was refused: a newer leader was elected after this runner's epoch."""

    def __init__(self, epoch: int, current: int | None) -> None:
        super().__init__(f"balancer epoch {epoch} was superseded by epoch {current}: "
                         "the plan was not committed")
        self.epoch = epoch
        self.current = current


def default_replica_id() -> str:
    """A name for this process: host and pid."""
    return f"{socket.gethostname()}:{os.getpid()}"


def elect(connection: sa.Connection, replica: str, now: datetime) -> int:
    """Raise the epoch by one and record `replica` as the leader; returns the new epoch."""
    insert = pg_insert if connection.dialect.name == "postgresql" else sqlite_insert
    statement = insert(LEASE).values(id=1, epoch=1, replica=replica[:200], elected_at=now)
    upsert = statement.on_conflict_do_update(
        index_elements=[LEASE.c.id],
        set_={"epoch": LEASE.c.epoch + 1, "replica": statement.excluded.replica,
              "elected_at": statement.excluded.elected_at},
    )
    return int(connection.execute(upsert.returning(LEASE.c.epoch)).scalar_one())


def check_epoch(session: Session, epoch: int) -> None:
    """Refuse (raise `Deposed`) unless `epoch` is still the current one; holds a share lock on
    the leadership row until the transaction ends, so no election can interleave."""
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

    def __init__(self, replica: str) -> None:
        self.replica = replica
        self._epoch: int | None = None
        self._listeners: list[Elected] = []

    @property
    def epoch(self) -> int | None:
        """The epoch this replica leads under, or None while it does not lead."""
        return self._epoch

    @property
    def leading(self) -> bool:
        """Whether this replica runs the balancer now."""
        return self._epoch is not None

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
            log.warning("replica %s was deposed (epoch %d): stops running the balancer",
                        self.replica, epoch)
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


class AdvisoryLockLeadership(Leadership):
    """PostgreSQL: lead while holding an advisory lock on a dedicated connection."""

    def __init__(self, db: Database, replica: str, *, poll_seconds: float = 1.0) -> None:
        super().__init__(replica)
        self.db = db
        self.poll_seconds = poll_seconds
        # Its own engine without a pool: the lock lives and dies with exactly one connection,
        # which no request ever borrows and no pool recycles.
        self._engine: AsyncEngine = create_async_engine(db.url, poolclass=NullPool)
        self._stopping = False
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Campaign in the background; leads as soon as the lock is free."""
        self._task = asyncio.get_running_loop().create_task(self._campaign())

    async def stop(self) -> None:
        """Step down, release the lock (followers take over within their poll) and close."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
        await self._engine.dispose()

    def step_down(self, epoch: int) -> None:
        """Stop leading under `epoch` and let go of the lock connection."""
        super().step_down(epoch)
        self._wake.set()

    async def _campaign(self) -> None:
        while not self._stopping:
            try:
                async with self._engine.connect() as connection:
                    await _keepalive(connection, self.poll_seconds)
                    while not self._stopping:
                        if await _try_lock(connection):
                            await self._lead(connection)
                            break  # a fresh connection for the next term
                        await self._pause()
            except Exception as exc:  # database away: lose leadership, keep campaigning
                if self._epoch is not None:
                    log.warning("replica %s lost its leadership connection: %s",
                                self.replica, exc)
                else:
                    log.debug("leadership campaign: %s", exc)
                self._epoch = None
                await self._pause()

    async def _lead(self, connection: AsyncConnection) -> None:
        replica, now = self.replica, self.db.clock()
        epoch = await connection.run_sync(lambda c: elect(c, replica, now))
        await connection.commit()
        self._wake.clear()
        self._elected(epoch)
        try:
            while not self._stopping and self._epoch == epoch:
                await self._pause()
                # The heartbeat: a dead connection means the lock may already be someone
                # else's; stop leading now (the fence covers a commit already under way).
                await connection.execute(sa.text("SELECT 1"))
                await connection.commit()
        finally:
            self._epoch = None
        await connection.execute(sa.text("SELECT pg_advisory_unlock(:key)"),
                                 {"key": LEADER_LOCK_KEY})
        await connection.commit()
        log.info("replica %s released the balancer (epoch %d)", self.replica, epoch)

    async def _pause(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=self.poll_seconds)
        self._wake.clear()

    @contextlib.asynccontextmanager
    async def lead_once(self) -> AsyncIterator[int]:
        """Lead for one run when nobody else does (a replica with the balancer turned off)."""
        if self._epoch is not None:
            yield self._epoch
            return
        async with self._engine.connect() as connection:
            if not await _try_lock(connection):
                raise NotLeader(f"another replica runs the balancer (not {self.replica})")
            try:
                replica, now = self.replica, self.db.clock()
                epoch = await connection.run_sync(lambda c: elect(c, replica, now))
                await connection.commit()
                yield epoch
            finally:
                await connection.execute(sa.text("SELECT pg_advisory_unlock(:key)"),
                                         {"key": LEADER_LOCK_KEY})
                await connection.commit()


async def _try_lock(connection: AsyncConnection) -> bool:
    got = (await connection.execute(sa.text("SELECT pg_try_advisory_lock(:key)"),
                                    {"key": LEADER_LOCK_KEY})).scalar_one()
    await connection.commit()  # the lock is the session's; never sit idle in a transaction
    return bool(got)


async def _keepalive(connection: AsyncConnection, poll_seconds: float) -> None:
    # Server side: notice a vanished client (no FIN, e.g. a partition) within about 10 s and
    # end its session, which frees the lock. The leader's own heartbeat notices sooner.
    idle = max(1, round(poll_seconds * 2))
    for statement in (f"SET tcp_keepalives_idle = {idle}", "SET tcp_keepalives_interval = 2",
                      "SET tcp_keepalives_count = 3", "SET tcp_user_timeout = 10000"):
        await connection.execute(sa.text(statement))
    await connection.commit()


def leadership_for(db: Database, *, replica: str | None, poll_seconds: float) -> Leadership:
    """Sole leadership on SQLite, an advisory-lock election on PostgreSQL."""
    name = replica or default_replica_id()
    if db.is_sqlite:
        return SoleLeadership(db, name)
    return AdvisoryLockLeadership(db, name, poll_seconds=poll_seconds)
