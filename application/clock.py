"""The clock: timed work (escalations, notification delivery, no-shows, follow-ups due), run once
across replicas, from due times kept in the database.

Every replica runs a `Clock`. Each kind of work is a row of `scheduled_work` with its due time.
A clock claims the due rows it runs in one short transaction (on PostgreSQL with
`FOR UPDATE SKIP LOCKED`, so two replicas never claim the same row and neither waits for the
other; SQLite serialises writers with BEGIN IMMEDIATE), runs the work, then sets the next due
time. A claim lapses after `lease`, so work whose replica was killed mid-run is claimed again
by the next clock that looks. The due times are in the database, not in a process: work that
came due while no replica ran runs once when one starts (the next due time counts from then,
missed periods are not replayed one by one).

Why a table of our own rather than APScheduler's SQLAlchemy job store: APScheduler 3 does not
support several schedulers sharing one job store (each would run every job), its store is
synchronous and pickles jobs; APScheduler 4, which coordinates schedulers, is still a
pre-release. The work here is a handful of periodic sweeps whose own rows (notifications,
result communications, appointments) carry the due times of each item, so what the clock needs
is exactly a claimable due time per kind of work.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from domain.db import Database, UnitOfWork
from domain.enums import Role
from domain.lifecycle import Actor
from domain.models import ScheduledWork
from domain.models._columns import core_table

log = logging.getLogger("radflow.application.clock")

WORK = core_table(ScheduledWork)
CLOCK_ACTOR = Actor(id="radflow-clock", role=Role.SYSTEM)


@dataclass(frozen=True, slots=True)
class Job:
    """One kind of timed work: run every `every`, answering a one-line outcome."""

    kind: str
    every: timedelta
    run: Callable[[], Awaitable[str]]


class Clock:
    """Claims and runs the due work of this process's jobs, on every replica."""

    def __init__(
        self,
        db: Database,
        jobs: Sequence[Job],
        *,
        replica: str,
        poll_seconds: float,
        lease: timedelta,
    ) -> None:
        self.db = db
        self.jobs = {job.kind: job for job in jobs}
        self.replica = replica
        self.poll_seconds = poll_seconds
        self.lease = lease
        self._task: asyncio.Task[None] | None = None
        self._failing = False
        self._registered = False

    def start(self) -> None:
        if self.jobs and self._task is None:
            self._task = asyncio.create_task(self._loop(), name="radflow-clock")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _loop(self) -> None:
        while True:
            try:
                await self.tick()
                if self._failing:
                    log.warning("clock: running again")
                self._failing = False
            except Exception:
                if not self._failing:  # once per outage, not every poll
                    log.exception("clock: could not claim due work; retrying")
                self._failing = True
            await asyncio.sleep(self.poll_seconds)

    async def tick(self) -> list[str]:
        """Claim the due work, run it, set its next due time; the kinds run."""
        # A look first, without the write lock: most polls find nothing due, and on SQLite
        # every claim takes the database's one write lock (replicas in other processes then
        # wait in SQLite's busy handler, which sleeps up to 100 ms a try).
        if self._registered and not await self.db.read(self._anything_due, bounded=True):
            return []
        claimed = await self.db.run(self._claim)
        self._registered = True  # the jobs' rows are committed (with the first claim)
        for kind in claimed:
            job = self.jobs[kind]
            try:
                outcome, failed = await job.run(), False
            except Exception as exc:
                log.exception("clock: %s failed", kind)
                outcome, failed = f"failed: {type(exc).__name__}: {exc}", True
            await self.db.run(partial(self._finish, kind=kind, outcome=outcome, failed=failed))
        return claimed

    def _anything_due(self, session: Session) -> bool:
        now = self.db.clock()
        query = sa.select(WORK.c.kind).where(
            WORK.c.kind.in_(sorted(self.jobs)),
            WORK.c.due_at <= now,
            sa.or_(WORK.c.claimed_until.is_(None), WORK.c.claimed_until <= now),
        )
        return session.execute(query.limit(1)).first() is not None

    def _claim(self, uow: UnitOfWork) -> list[str]:
        session, now = uow.session, uow.now
        if not self._registered:
            self._register(session, now)
        due = session.scalars(
            sa.select(WORK.c.kind)
            .where(
                WORK.c.kind.in_(sorted(self.jobs)),
                WORK.c.due_at <= now,
                sa.or_(WORK.c.claimed_until.is_(None), WORK.c.claimed_until <= now),
            )
            .order_by(WORK.c.due_at)
            .with_for_update(skip_locked=True)
        ).all()
        if due:
            session.execute(
                sa.update(WORK)
                .where(WORK.c.kind.in_(due))
                .values(
                    claimed_by=self.replica, claimed_until=now + self.lease, last_started_at=now
                )
            )
        return list(due)

    def _register(self, session: Session, now: datetime) -> None:
        """Give each job of this process a row (due now) if no replica has yet."""
        insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
        rows = [
            {"kind": kind, "due_at": now, "every_seconds": job.every.total_seconds(), "runs": 0}
            | {"failures": 0}
            for kind, job in self.jobs.items()
        ]
        session.execute(insert(WORK).values(rows).on_conflict_do_nothing(index_elements=["kind"]))

    def _finish(self, uow: UnitOfWork, *, kind: str, outcome: str, failed: bool) -> None:
        job = self.jobs[kind]
        uow.session.execute(
            sa.update(WORK)
            # A claim that lapsed and was taken over is the new holder's to finish.
            .where(WORK.c.kind == kind, WORK.c.claimed_by == self.replica)
            .values(
                due_at=uow.now + job.every,
                every_seconds=job.every.total_seconds(),
                claimed_by=None,
                claimed_until=None,
                last_finished_at=uow.now,
                last_outcome=outcome[:500],
                runs=WORK.c.runs + 1,
                failures=WORK.c.failures + (1 if failed else 0),
            )
        )
