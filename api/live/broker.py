"""Brokers carry committed events from the relay to every replica's hub.

In-process (the default, one replica): publishing is handing the events to the hub.

Redis (`REDIS_URL` set): one Redis Stream per deployment, `<prefix>:events`. The relay adds
each event with the stream entry id `<event id>-0`, so Redis itself keeps the stream in event
order and refuses an event a second time: when several replicas' relays publish the same rows,
the first wins and the others' XADD fails harmlessly ("equal or smaller than the top item").
Every replica reads the stream with a blocking XREAD from the last id its hub delivered, so a
reader that was away picks up exactly where it stopped. After any Redis error the reader first
catches up from the outbox itself (the source of truth), which covers events Redis never got
or lost in a restart, then resumes XREAD from there.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

import redis.asyncio as aioredis
from redis.exceptions import RedisError, ResponseError

from api.live.events import LiveEvent
from api.live.hub import Hub

log = logging.getLogger("radflow.live")
CatchUp = Callable[[int], Awaitable[list[LiveEvent]]]


class Broker(Protocol):
    """What the relay publishes to and each replica's hub is fed from."""

    name: str
    connected: bool  # this replica's reader reached the broker at its last attempt

    async def publish(self, events: Sequence[LiveEvent]) -> None:
        """Publish events in id order (raises when the broker is unreachable)."""

    async def published_through(self) -> int | None:
        """The newest event id the broker already holds (None: it keeps no history)."""

    async def start(self, hub: Hub, catch_up: CatchUp) -> None:
        """Begin feeding `hub` with what is published (by any replica)."""

    async def ping(self) -> bool:
        """Whether the broker answers."""

    async def close(self) -> None:
        """Stop reading and release connections."""


class InProcessBroker:
    """One replica: the relay hands events straight to the hub."""

    name = "in-process"

    def __init__(self) -> None:
        self._hub: Hub | None = None
        self.connected = True

    async def publish(self, events: Sequence[LiveEvent]) -> None:
        """Deliver to this process's hub."""
        if self._hub is not None:
            self._hub.publish(events)

    async def published_through(self) -> int | None:
        """Nothing is kept: a new process starts after the newest committed event."""
        return None

    async def start(self, hub: Hub, catch_up: CatchUp) -> None:
        """Remember the hub."""
        self._hub = hub

    async def ping(self) -> bool:
        """Always reachable."""
        return True

    async def close(self) -> None:
        """Nothing to release."""
        self._hub = None


class RedisStreamBroker:
    """Several replicas: a Redis Stream in event id order (see the module docstring)."""

    name = "redis"

    def __init__(
        self,
        url: str,
        *,
        prefix: str,
        maxlen: int,
        block_ms: int = 5000,
        retry_seconds: float = 0.5,
    ) -> None:
        self.stream = f"{prefix}:events"
        self.maxlen = maxlen
        self.block_ms = block_ms
        self.retry_seconds = retry_seconds
        self.connected = False  # the reader's last Redis command succeeded
        self.failed_attempts = 0  # reader attempts that failed since it last reached Redis
        self._outage = False  # a lost connection was logged and its end not yet
        self._database_failing = False
        # Two clients: the blocking XREAD holds its connection for up to block_ms, and must not
        # time out while it waits; publishing and pings should fail fast.
        self._client = aioredis.from_url(url, socket_timeout=5, socket_connect_timeout=2)
        self._reader = aioredis.from_url(
            url, socket_timeout=block_ms / 1000 + 5, socket_connect_timeout=2
        )
        self._task: asyncio.Task[None] | None = None

    async def publish(self, events: Sequence[LiveEvent]) -> None:
        """XADD each event under its own id; an id already in the stream counts as published."""
        if not events:
            return
        pipe = self._client.pipeline(transaction=False)
        for event in events:
            pipe.xadd(
                self.stream,
                {"e": event.encode()},
                id=f"{event.id}-0",
                maxlen=self.maxlen,
                approximate=True,
            )
        for result in await pipe.execute(raise_on_error=False):
            if isinstance(result, ResponseError) and "equal or smaller" in str(result):
                continue  # another replica's relay published it first
            if isinstance(result, Exception):
                raise result

    async def published_through(self) -> int | None:
        """The id of the stream's newest entry (None when the stream is empty or absent)."""
        newest = await self._client.xrevrange(self.stream, count=1)
        if not newest:
            return None
        entry_id = newest[0][0]
        assert isinstance(entry_id, bytes)  # the clients do not decode responses
        return int(entry_id.split(b"-")[0])

    async def start(self, hub: Hub, catch_up: CatchUp) -> None:
        """Start the reader task."""
        self._task = asyncio.get_running_loop().create_task(self._read(hub, catch_up))

    async def _read(self, hub: Hub, catch_up: CatchUp) -> None:
        while True:
            try:
                # Whatever was committed since this hub's last event, straight from the outbox:
                # covers the time Redis was away, and anything a Redis restart lost.
                while events := await catch_up(hub.last_id):
                    hub.publish(events)
                self._database_ok()
                # The outbox answered, which says nothing of Redis: only Redis' own answer
                # ends an outage (XREAD may block for block_ms before it returns).
                await self._reader.ping()
                self._redis_reached()
                while True:
                    answer = await self._reader.xread(
                        {self.stream: f"{hub.last_id}-0"}, count=500, block=self.block_ms
                    )
                    assert isinstance(answer, list)  # [[stream, [(id, fields), ...]]]
                    for _, entries in answer:
                        hub.publish(LiveEvent.decode(fields[b"e"]) for _, fields in entries)
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:
                self._redis_lost(exc)
                await asyncio.sleep(self.retry_seconds)
            except Exception:  # the database, during catch-up: keep trying
                if not self._database_failing:
                    log.exception(
                        "live event reader cannot catch up from the outbox; retrying every %g s",
                        self.retry_seconds,
                    )
                self._database_failing = True
                await asyncio.sleep(self.retry_seconds)

    def _redis_reached(self) -> None:
        if self._outage:
            log.warning(
                "redis stream reader reconnected after %d failed attempts", self.failed_attempts
            )
        self._outage, self.connected, self.failed_attempts = False, True, 0

    def _redis_lost(self, exc: BaseException) -> None:
        # Once per outage: the reader retries every retry_seconds while Redis is away.
        if not self._outage:
            log.warning(
                "redis stream reader cannot reach redis (retrying every %g s; "
                "logged again when it is back): %s",
                self.retry_seconds,
                exc,
            )
        self._outage, self.connected = True, False
        self.failed_attempts += 1

    def _database_ok(self) -> None:
        if self._database_failing:
            log.warning("live event reader catches up from the outbox again")
        self._database_failing = False

    async def ping(self) -> bool:
        """Whether Redis answers PING."""
        try:
            return bool(await self._client.ping())
        except (RedisError, OSError):
            return False

    async def close(self) -> None:
        """Stop the reader and close both clients."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self._reader.aclose()
        await self._client.aclose()
