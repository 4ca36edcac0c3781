"""The outbox relay: publishes committed events to the broker, in id order, until none wait.

It wakes on every local commit (a `Database.on_commit` listener) and polls every
`outbox_poll_seconds` for rows committed by other processes, or left behind by a replica that
died between its commit and its publish. While the broker is unreachable rows simply wait in
the outbox; the relay retries with a growing pause and publishes them, in order, once the
broker is back. Every minute it records how far it published (`outbound_cursors`), and the
clock's retention job prunes no further (application/pruning.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence

from api.live.broker import Broker
from api.live.outbox import Lag, events_after, lag_after, record_published
from domain.db import Database
from domain.events import DomainEvent

log = logging.getLogger("radflow.live")
BATCH = 500
RECORD_EVERY_SECONDS = 60.0  # how often the published position is written for pruning
LAG_EVERY_SECONDS = 5.0  # how often the lag the metrics report is refreshed


class Relay:
    """Moves committed outbox rows to the broker."""

    def __init__(self, db: Database, broker: Broker, *, poll_seconds: float) -> None:
        self.db = db
        self.broker = broker
        self.poll_seconds = poll_seconds
        self.published = 0
        self.healthy = False
        self._failing = False  # a failure to publish was logged and its end not yet
        self.last_lag = Lag(events=0, oldest_at=None)
        self._position: int | None = None  # newest id known published; None until asked
        self._floor = 0
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        db.on_commit(self._on_commit)

    @property
    def position(self) -> int:
        """The newest event id published (or, before the broker answered, the start point)."""
        return self._floor if self._position is None else self._position

    def start(self, floor: int) -> None:
        """Start relaying; `floor` is the newest id committed before this process started."""
        self._floor = floor
        self._task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self) -> None:
        """Stop after the current batch."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)

    def _on_commit(self, events: Sequence[DomainEvent]) -> None:
        if events:
            self._wake.set()

    async def _loop(self) -> None:
        pause = 0.1
        loop = asyncio.get_running_loop()
        recorded_at = measured_at = loop.time()
        while not self._stopping:
            if loop.time() - measured_at > LAG_EVERY_SECONDS:
                measured_at = loop.time()
                await self._measure()
            try:
                await self.drain()
                if self._failing:
                    log.warning("outbox relay publishes again")
                self.healthy, self._failing, pause = True, False, 0.1
            except Exception as exc:  # broker or database away: rows wait in the outbox
                if not self._failing:  # once per outage, not at every retry
                    log.warning("outbox relay cannot publish (will retry): %s", exc)
                self.healthy, self._failing = False, True
                pause = min(pause * 2, 2.0)
                await asyncio.sleep(pause)
                continue
            if loop.time() - recorded_at > RECORD_EVERY_SECONDS:
                recorded_at = loop.time()
                await self._record()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.poll_seconds)
            self._wake.clear()

    async def drain(self) -> None:
        """Publish every committed event after the current position."""
        if self._position is None:
            # A stream that already holds events tells where publishing stopped (perhaps on
            # another replica); an empty one starts after what was committed before we started.
            held = await self.broker.published_through()
            self._position = self._floor if held is None else held
        while True:
            # Clear before reading: a commit landing during this batch wakes the next round.
            self._wake.clear()
            events = await events_after(self.db, self._position, limit=BATCH)
            if not events:
                return
            await self.broker.publish(events)
            self._position = events[-1].id
            self.published += len(events)
            if len(events) < BATCH:
                return

    async def lag(self) -> Lag:
        """Committed events this relay has not published yet."""
        return await lag_after(self.db, self.position)

    def lag_seconds(self) -> float:
        """Age of the oldest unpublished event at the last measurement (0: none waits)."""
        oldest = self.last_lag.oldest_at
        return 0.0 if oldest is None else max(0.0, (self.db.clock() - oldest).total_seconds())

    async def _measure(self) -> None:
        try:
            self.last_lag = await self.lag()
        except Exception as exc:  # the database is away; /readyz says so
            log.debug("outbox lag not measured: %s", exc)

    async def _record(self) -> None:
        try:
            await record_published(self.db, self.position)
        except Exception:
            log.exception("could not record the published position (pruning waits)")
