"""Where a lifecycle mutation's CPU time goes, layer by layer, against the floor's in one run.

    python -m bench.lifecycle_layers [--exams 40] [--database-url URL]

Drives bench.lifecycle's walk one mutation at a time, then the floor's as many mutations over
the same exams (bench/_mutation_floor.py), and charges the loop thread's CPU time
(`time.thread_time`: time the shared machine gave to other processes is not counted, so the
split holds on a loaded machine where wall-clock figures do not) to the innermost of these
layers running at the moment: the access check with the exam's load, the domain service,
the rows it changed and added written by Core, ORM flushes, the history, outbox and audit
writes, the session with its BEGIN and commit, and what is left of the request (HTTP,
GraphQL, payload, JSON). Waiting for PostgreSQL is not CPU
time and shows in none. Last line: {"radflow_us": {layer: µs per mutation}, "floor_us": {..},
"cpu_ratio": floor's CPU per mutation / radflow's, "backend": ..}
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

import application.commands as commands
import domain.db as db_module
from api.app import freeze_startup_heap
from api.relay import decode_id
from bench import _mutation_floor as floor
from bench import lifecycle
from bench._asgi import AsgiClient
from domain.tables import EXAMS


class Meter:
    """CPU time of the loop thread, charged to the innermost open layer."""

    def __init__(self) -> None:
        self.spent: dict[str, float] = defaultdict(float)
        self._stack: list[str] = []
        self._since = time.thread_time()

    def _charge(self) -> None:
        now = time.thread_time()
        if self._stack:
            self.spent[self._stack[-1]] += now - self._since
        self._since = now

    @contextmanager
    def layer(self, name: str) -> Iterator[None]:
        """Charge the time inside to `name` (minus the layers opened within)."""
        self._charge()
        self._stack.append(name)
        try:
            yield
        finally:
            self._charge()
            self._stack.pop()

    def wrap(self, name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        """`function`, its calls charged to `name`."""

        def metered(*args: Any, **kwargs: Any) -> Any:
            with self.layer(name):
                return function(*args, **kwargs)

        return metered


@contextmanager
def patched(meter: Meter) -> Iterator[None]:
    """Meter radflow's layers for the duration (each patch undone after)."""
    originals: list[tuple[object, str, Any]] = []

    def replace(owner: object, attribute: str, value: Any) -> None:
        originals.append((owner, attribute, getattr(owner, attribute)))
        setattr(owner, attribute, value)

    def patch(owner: object, attribute: str, name: str) -> None:
        replace(owner, attribute, meter.wrap(name, getattr(owner, attribute)))

    execute = db_module.Database._execute

    async def metered_execute(self: db_module.Database, command: Any) -> Any:
        with meter.layer("session, BEGIN, commit"):
            return await execute(self, command)

    replace(db_module.Database, "_execute", metered_execute)

    # `_execute` opens the session, begins, runs `_in_session` (the command) and commits.
    patch(db_module.Database, "_in_session", "command (other)")
    patch(commands, "load_visible_exam", "access check + exam load")
    patch(db_module, "history_rows", "history")
    patch(db_module, "outbox_rows", "outbox")
    patch(db_module, "command_records", "audit")
    patch(db_module, "write_closing_rows", "history, audit and outbox INSERTs")
    patch(Session, "flush", "ORM flush")
    patch(db_module.UnitOfWork, "write_rows", "rows by Core")
    exam_transaction = commands.exam_transaction

    def metered_transaction(actor: Any, exam_id: int, work: Any, **kwargs: Any) -> Any:
        return exam_transaction(actor, exam_id, meter.wrap("domain service", work), **kwargs)

    replace(commands, "exam_transaction", metered_transaction)
    try:
        yield
    finally:
        for owner, attribute, original in reversed(originals):
            setattr(owner, attribute, original)


class MeteredClient(AsgiClient):
    """Each request charged to `name`, less the layers metered within it."""

    def __init__(self, app: Any, meter: Meter, name: str) -> None:
        super().__init__(app)
        self.meter, self.name = meter, name

    async def post_json(
        self, path: str, payload: object, headers: dict[str, str] | None = None
    ) -> Any:
        with self.meter.layer(self.name):
            return await super().post_json(path, payload, headers)


async def run(url: str, exams: int) -> dict[str, Any]:
    app, db = await lifecycle.prepare(url, exams + 2)
    freeze_startup_heap()  # as bench.lifecycle and `radflow serve` do
    slots = lifecycle.slots_for(exams + 2)
    plain = AsgiClient(app)
    for n in range(2):  # warm the caches (parser, validation, statements) unmetered
        await lifecycle.drive_exam(plain, n, slots[n])
    meter = Meter()
    client = MeteredClient(app, meter, "HTTP, GraphQL, payload")
    with patched(meter):
        exam_ids = [await lifecycle.drive_exam(client, n, slots[n]) for n in range(2, exams + 2)]
    radflow = dict(meter.spent)

    versions = await db.read(
        lambda session: dict(session.execute(sa.select(EXAMS.c.id, EXAMS.c.version)).all())
    )
    meter = Meter()
    client = MeteredClient(app, meter, "HTTP, GraphQL, BEGIN, commit")
    advance = floor._advance
    floor._advance = meter.wrap("statements", advance)
    try:
        for exam_id in exam_ids:
            version = versions[decode_id(exam_id, "Exam", field="exam_id")]
            await lifecycle.drive_floor(client, exam_id, version)
    finally:
        floor._advance = advance
    await db.dispose()

    mutations = exams * lifecycle.MUTATIONS_PER_EXAM

    def per_mutation(spent: dict[str, float]) -> dict[str, float]:
        layers = {k: round(v / mutations * 1e6) for k, v in sorted(spent.items())}
        return {**layers, "total": round(sum(spent.values()) / mutations * 1e6)}

    radflow_us, floor_us = per_mutation(radflow), per_mutation(dict(meter.spent))
    return {
        "radflow_us": radflow_us,
        "floor_us": floor_us,
        "cpu_ratio": round(floor_us["total"] / radflow_us["total"], 3),
        "backend": db.backend,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exams", type=int, default=40)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    url = args.database_url or f"sqlite:///{Path(tempfile.mkdtemp()) / 'layers.db'}"
    print(json.dumps(asyncio.run(run(url, args.exams))))


if __name__ == "__main__":
    main()
