"""Count the SQL statements each lifecycle mutation sends, over bench.lifecycle's walk.

    python -m bench.statements [--exams 5] [--database-url URL]

Drives exams through the same 21 mutations as bench.lifecycle (one at a time) and counts, per
mutation, the statements the engine's cursor executes (SQLAlchemy's `before_cursor_execute`,
as the statement-count tests do), the transaction's BEGIN included; COMMIT goes through the
driver, not a cursor, and is not counted. Last line: {"statements_per_mutation": ..,
"by_mutation": {name: statements}, "backend": ..}
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

from sqlalchemy import event

from bench import lifecycle
from bench._asgi import AsgiClient


class CountingClient(AsgiClient):
    """An AsgiClient that files the statements run during each request under its mutation."""

    def __init__(self, app: Any, counts: list[int]) -> None:
        super().__init__(app)
        self.counts = counts
        self.by_mutation: dict[str, list[int]] = defaultdict(list)

    async def post_json(
        self, path: str, payload: object, headers: dict[str, str] | None = None
    ) -> Any:
        before = self.counts[0]
        body = await super().post_json(path, payload, headers)
        if isinstance(payload, dict) and "data" in body:
            name = next(iter(body["data"]))
            self.by_mutation[name].append(self.counts[0] - before)
        return body


async def run(url: str, exams: int) -> dict[str, Any]:
    app, db = await lifecycle.prepare(url, exams)
    counts = [0]

    def count(*_: Any) -> None:
        counts[0] += 1

    if db.sync_engine is not None:
        engine = db.sync_engine
    else:
        assert db.async_engine is not None
        engine = db.async_engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    client = CountingClient(app, counts)
    slots = lifecycle.slots_for(exams)
    for n in range(exams):
        await lifecycle.drive_exam(client, n, slots[n])
    event.remove(engine, "before_cursor_execute", count)
    await db.dispose()
    by_mutation = {
        name: round(sum(seen) / len(seen), 2) for name, seen in client.by_mutation.items()
    }
    total = sum(sum(seen) for seen in client.by_mutation.values())
    calls = sum(len(seen) for seen in client.by_mutation.values())
    return {
        "statements_per_mutation": round(total / calls, 2),
        "by_mutation": by_mutation,
        "backend": db.backend,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exams", type=int, default=5)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    url = args.database_url or f"sqlite:///{Path(tempfile.mkdtemp()) / 'statements.db'}"
    print(json.dumps(asyncio.run(run(url, args.exams))))


if __name__ == "__main__":
    main()
