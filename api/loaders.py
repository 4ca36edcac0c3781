"""DataLoaders: every nested relation is fetched in one statement per request and type.

`Loaders.by_id(Model)` batches primary-key lookups; `Loaders.children(Model, column)` batches
"all rows whose foreign key is one of these". Both are created on first use, so a request pays
only for the relations it asks for.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlmodel import SQLModel
from strawberry.dataloader import DataLoader

from domain.db import Database

M = TypeVar("M", bound=SQLModel)
K = TypeVar("K")
V = TypeVar("V")

# SQLite allows 32k bound parameters, PostgreSQL 32k as well; stay far below both.
CHUNK = 2000


class Loaders:
    """The DataLoaders of one request."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._loaders: dict[tuple[Any, ...], DataLoader[Any, Any]] = {}

    def by_id(self, model: type[M]) -> DataLoader[int, M | None]:
        """Rows of `model` by primary key (None for a missing id)."""
        key = ("id", model)
        if key not in self._loaders:
            self._loaders[key] = DataLoader(load_fn=self._rows_by_id(model))
        return self._loaders[key]

    def children(
        self, model: type[M], column: str, order_by: str = "id"
    ) -> DataLoader[int, list[M]]:
        """Rows of `model` grouped by the value of `column` (a foreign key)."""
        key = ("children", model, column, order_by)
        if key not in self._loaders:
            self._loaders[key] = DataLoader(load_fn=self._rows_by_parent(model, column, order_by))
        return self._loaders[key]

    def batch(
        self, name: str, load: Callable[[Database, list[K]], Awaitable[Sequence[V]]]
    ) -> DataLoader[K, V]:
        """A request-scoped DataLoader for a feature's own batch function `load(db, keys)`."""
        key = ("batch", name)
        if key not in self._loaders:
            db = self._db

            async def run(keys: list[K]) -> Sequence[V]:
                return await load(db, keys)

            self._loaders[key] = DataLoader(load_fn=run)
        return self._loaders[key]

    def _rows_by_id(self, model: type[M]) -> Any:
        async def load(keys: list[int]) -> Sequence[M | None]:
            rows = await self._db.read(lambda s: _fetch(s, model, "id", keys, "id"))
            by_id = {row.id: row for row in rows}  # type: ignore[attr-defined]
            return [by_id.get(k) for k in keys]

        return load

    def _rows_by_parent(self, model: type[M], column: str, order_by: str) -> Any:
        async def load(keys: list[int]) -> Sequence[list[M]]:
            rows = await self._db.read(lambda s: _fetch(s, model, column, keys, order_by))
            grouped: dict[int, list[M]] = defaultdict(list)
            for row in rows:
                grouped[getattr(row, column)].append(row)
            return [grouped.get(k, []) for k in keys]

        return load


def _fetch(
    session: Session, model: type[M], column: str, keys: list[int], order_by: str
) -> list[M]:
    attribute = getattr(model, column)
    rows: list[M] = []
    unique = list(dict.fromkeys(keys))
    for start in range(0, len(unique), CHUNK):
        chunk = unique[start : start + CHUNK]
        rows.extend(
            session.scalars(
                sa.select(model).where(attribute.in_(chunk)).order_by(getattr(model, order_by))
            )
        )
    return rows
