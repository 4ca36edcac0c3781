"""This process's fan-out point: every event reaches each local listener of its topic once."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable

from api.live.events import LiveEvent

Deliver = Callable[[LiveEvent], None]


class Hub:
    """Delivers events in id order to the listeners of their topic, dropping duplicates.

    Events reach the hub from the broker and, after a broker outage, from the outbox directly;
    both carry the outbox id, so "drop what is not newer than the last delivered id" is all the
    deduplication the process needs.
    """

    def __init__(self, last_id: int = 0) -> None:
        self.last_id = last_id
        self.duplicates = 0
        self._listeners: dict[str, dict[int, Deliver]] = defaultdict(dict)
        self._next_key = 0

    def listen(self, topic: str, deliver: Deliver) -> Callable[[], None]:
        """Call `deliver` with each new event of `topic`; returns the function that stops it."""
        self._next_key += 1
        key = self._next_key
        listeners = self._listeners[topic]
        listeners[key] = deliver

        def stop() -> None:
            listeners.pop(key, None)

        return stop

    def publish(self, events: Iterable[LiveEvent]) -> None:
        """Hand new events to their listeners; events already delivered are dropped."""
        for event in events:
            if event.id <= self.last_id:
                self.duplicates += 1
                continue
            self.last_id = event.id
            for deliver in list(self._listeners.get(event.topic, {}).values()):
                deliver(event)

    def listener_count(self) -> int:
        """How many listeners are registered (shared streams and solo subscriptions)."""
        return sum(len(v) for v in self._listeners.values())
