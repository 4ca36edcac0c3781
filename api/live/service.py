"""One process's live machinery: hub, broker, relay, and the event streams subscriptions read."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

from graphql import GraphQLError

from api.live.broker import Broker, InProcessBroker, RedisStreamBroker
from api.live.events import LiveEvent
from api.live.hub import Hub
from api.live.outbox import events_after, last_event_id, pruned_through
from api.live.relay import Relay
from application.settings import Settings
from domain.db import Database

REPLAY_PAGE = 500
# A subscriber further behind than this many events is cut off (it can resume with `after`)
# rather than letting its queue grow without bound.
QUEUE_LIMIT = 10_000


class SubscriberTooSlow(GraphQLError):
    """A subscription fell too far behind the live stream; resume it with `after`."""

    def __init__(self, fell_behind_at: int, resume_after: int) -> None:
        super().__init__(
            f"fell behind at event {fell_behind_at}; resubscribe with after: {resume_after}",
            extensions={"code": "SUBSCRIBER_TOO_SLOW", "resumeAfter": resume_after},
        )


class ResumeTooOld(GraphQLError):
    """A subscription asked to resume from before what the outbox still holds."""

    def __init__(self, after: int, pruned_through: int, retention_hours: float) -> None:
        super().__init__(
            f"cannot resume after event {after}: events up to {pruned_through} "
            f"were pruned (kept {retention_hours:g} h); read the current state "
            f"again, then subscribe without `after`",
            extensions={"code": "RESUME_TOO_OLD", "prunedThrough": pruned_through},
        )


def broker_for(settings: Settings) -> Broker:
    """Redis Streams when REDIS_URL is set, else in-process."""
    if settings.redis_url:
        return RedisStreamBroker(
            settings.redis_url, prefix=settings.live_prefix, maxlen=settings.live_stream_maxlen
        )
    return InProcessBroker()


class Live:
    """Starts and stops the relay and the broker reader; serves subscriptions their events."""

    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings
        self.hub = Hub()
        self.broker = broker_for(settings)
        self.relay = Relay(
            db,
            self.broker,
            poll_seconds=settings.outbox_poll_seconds,
        )
        self.started = False
        self.active_subscriptions = 0  # operations running over WebSocket (for /metrics)

    async def start(self) -> None:
        """Begin relaying and reading (from the running event loop)."""
        floor = await last_event_id(self.db)
        self.hub.last_id = floor  # history before now is served by `after`, from the outbox
        await self.broker.start(self.hub, lambda after: events_after(self.db, after))
        self.relay.start(floor)
        self.started = True

    async def stop(self) -> None:
        """Stop the relay and the broker."""
        await self.relay.stop()
        await self.broker.close()
        self.started = False

    async def events(
        self, topic: str, match: Callable[[LiveEvent], bool], after: int | None = None
    ) -> AsyncIterator[LiveEvent]:
        """The events of `topic` that `match`: first those after `after` from the outbox, then
        live ones, each exactly once and in id order."""
        queue: asyncio.Queue[LiveEvent] = asyncio.Queue()

        def deliver(event: LiveEvent) -> None:
            if queue.qsize() < QUEUE_LIMIT:
                queue.put_nowait(event)
            else:
                overflowed.append(event.id)

        overflowed: list[int] = []
        # Listen before reading the outbox: an event committed meanwhile then arrives both
        # ways, and the id check below drops the second copy; none can fall in between.
        stop = self.hub.listen(topic, deliver)
        try:
            # Without `after`, the stream starts at what the hub has delivered so far: that is
            # where a subscriber cut off before its first event would resume.
            last = after if after is not None else self.hub.last_id
            if after is not None:
                while True:
                    page = await events_after(self.db, last, topic=topic, limit=REPLAY_PAGE)
                    # Read after the page: pruning that ran before or during the read and
                    # took anything past `last` may have left a gap in it.
                    pruned = await pruned_through(self.db)
                    if last < pruned:
                        raise ResumeTooOld(last, pruned, self.settings.outbox_retention_hours)
                    for event in page:
                        last = event.id
                        if match(event):
                            yield event
                    if len(page) < REPLAY_PAGE:
                        break
            while True:
                event = await queue.get()
                if overflowed:
                    raise SubscriberTooSlow(overflowed[0], last)
                if event.id <= last:
                    continue
                last = event.id
                if match(event):
                    yield event
        finally:
            stop()

    def broker_degraded(self) -> bool:
        """Whether this replica cannot use the broker now: its reader lost Redis, or its
        relay cannot publish. Serving goes on (events wait in the outbox and subscribers here
        are fed from it); only live delivery across replicas waits."""
        return not self.broker.connected or not self.relay.healthy

    async def readiness(self) -> tuple[bool, dict[str, Any]]:
        """Whether this replica can serve (its database answers and it has started), for
        /readyz; the broker and the outbox lag only mark it degraded."""
        details: dict[str, Any] = {"broker": self.broker.name}
        try:
            lag = await asyncio.wait_for(self.relay.lag(), timeout=5)
            details["database"] = "ok"
            age = (self.db.clock() - lag.oldest_at).total_seconds() if lag.oldest_at else 0.0
            details["outbox"] = {
                "unpublished": lag.events,
                "oldest_age_s": round(age, 3),
                "published_through": self.relay.position,
            }
        except Exception as exc:
            details["database"] = f"unreachable: {type(exc).__name__}"
            age = 0.0
        broker_ok = await self.broker.ping()
        details["broker_status"] = "ok" if broker_ok else "unreachable"
        degraded = [] if broker_ok else ["broker"]
        if age > self.settings.outbox_max_lag_seconds:
            details["outbox"]["status"] = "lagging"
            degraded.append("outbox")
        details["degraded"] = degraded
        ready = details["database"] == "ok" and self.started
        details["status"] = "unavailable" if not ready else "degraded" if degraded else "ready"
        return ready, details
