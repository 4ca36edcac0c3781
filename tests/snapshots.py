"""Test data built once and put back: a database's contents, kept in memory.

* `take` and `restore`: every row of every table and where each generated-id counter stood
  (SQLite's `sqlite_sequence`, PostgreSQL's sequences); a database restored from a snapshot
  continues exactly as the one it was taken from: the same rows, the same ids for new rows.
* `record` and `replay`: what a set of commands wrote on an empty database of its own, and
  the events they published; replayed into an empty database of either backend as one command
  that writes the same rows and publishes the same events (the outbox and the exams' history
  are written from the events, by the command machinery, as they were the first time).
"""

from __future__ import annotations

import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlmodel import SQLModel

from domain.db import Database, UnitOfWork
from domain.events import DomainEvent
from domain.models import OutboxEvent
from domain.tables import EXAM_HISTORY

T = TypeVar("T")
Rows = dict[str, list[dict[str, Any]]]

# Written by every command from its events (domain/db.py): a replay emits the events instead.
FROM_EVENTS = frozenset({str(OutboxEvent.__tablename__), EXAM_HISTORY.name})


@dataclass(frozen=True)
class Snapshot:
    """The rows of every table, by table name, and the id counters: for SQLite the rows of
    `sqlite_sequence`, for PostgreSQL (sequence, last_value, is_called)."""

    rows: Rows
    counters: tuple[tuple[Any, ...], ...]


async def on_connection(db: Database, work: Callable[[sa.Connection], T]) -> T:
    """Run `work` on one connection of `db`, in one transaction that commits."""
    if db.sync_engine is not None:
        with db.sync_engine.begin() as connection:
            return work(connection)
    assert db.async_engine is not None
    async with db.async_engine.begin() as connection:
        return await connection.run_sync(work)


def _rows(connection: sa.Connection) -> Rows:
    return {
        table.name: [
            dict(row._mapping)
            for row in connection.execute(sa.select(table).order_by(*table.primary_key.columns))
        ]
        for table in SQLModel.metadata.sorted_tables
    }


_sequence_names: dict[tuple[str, str], str | None] = {}


def _sequence(connection: sa.Connection, table: sa.Table) -> tuple[str, str] | None:
    """PostgreSQL: the sequence behind a table's generated id and its column, if it has one."""
    columns = list(table.primary_key.columns)
    if len(columns) != 1:
        return None
    column = columns[0].name
    key = (table.name, column)
    if key not in _sequence_names:  # the schema's, the same for the whole run
        _sequence_names[key] = connection.scalar(
            sa.text("SELECT pg_get_serial_sequence(:t, :c)").bindparams(t=table.name, c=column)
        )
    name = _sequence_names[key]
    return None if name is None else (name, column)


def _counters(connection: sa.Connection) -> tuple[tuple[Any, ...], ...]:
    if connection.dialect.name == "sqlite":
        exists = connection.scalar(
            sa.text("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_sequence'")
        )
        if not exists:
            return ()
        rows = connection.execute(sa.text("SELECT name, seq FROM sqlite_sequence ORDER BY name"))
        return tuple(tuple(row) for row in rows)
    counters = []
    for table in SQLModel.metadata.sorted_tables:
        found = _sequence(connection, table)
        if found is not None:
            state = connection.execute(sa.text(f"SELECT last_value, is_called FROM {found[0]}"))
            counters.append((found[0], *state.one()))
    return tuple(counters)


def _take(connection: sa.Connection) -> Snapshot:
    return Snapshot(_rows(connection), _counters(connection))


async def take(db: Database) -> Snapshot:
    """The contents of `db` now."""
    return await on_connection(db, _take)


def _insert(connection: sa.Connection, rows: Rows, *, skip: frozenset[str] = frozenset()) -> None:
    for table in SQLModel.metadata.sorted_tables:  # parents before children
        if rows[table.name] and table.name not in skip:
            connection.execute(sa.insert(table), rows[table.name])


async def restore(db: Database, snapshot: Snapshot) -> None:
    """Fill `db`, empty and with the current schema, with the snapshot's contents."""

    def put(connection: sa.Connection) -> None:
        _insert(connection, snapshot.rows)
        if connection.dialect.name == "sqlite":
            if snapshot.counters:
                connection.execute(sa.text("DELETE FROM sqlite_sequence"))
                connection.execute(
                    sa.text("INSERT INTO sqlite_sequence (name, seq) VALUES (:n, :s)"),
                    [{"n": n, "s": s} for n, s in snapshot.counters],
                )
            return
        for name, last_value, is_called in snapshot.counters:
            connection.execute(
                sa.text("SELECT setval(:n, :v, :c)").bindparams(n=name, v=last_value, c=is_called)
            )

    await on_connection(db, put)


@dataclass(frozen=True)
class Recording:
    """What some commands wrote on an empty database, and the events they published."""

    rows: Rows
    events: tuple[DomainEvent, ...]


async def record(work: Callable[[Database], Awaitable[None]], now: datetime) -> Recording:
    """Run `work` on an empty SQLite database of its own whose clock stands at `now`."""
    with tempfile.TemporaryDirectory(prefix="radflow-record-") as folder:
        db = Database(f"sqlite:///{Path(folder) / 'record.db'}", clock=lambda: now)
        assert db.sync_engine is not None
        SQLModel.metadata.create_all(db.sync_engine)
        events: list[DomainEvent] = []
        db.on_commit(events.extend)
        try:
            await work(db)
            rows = (await take(db)).rows
        finally:
            await db.dispose()
    return Recording(rows, tuple(events))


def is_empty(connection: sa.Connection) -> bool:
    """Whether no table of the schema holds a row."""
    tables = SQLModel.metadata.sorted_tables
    found = connection.execute(
        sa.select(*(sa.exists(sa.select(sa.literal(1)).select_from(t)) for t in tables))
    ).one()
    return not any(found)


async def replay(db: Database, recording: Recording) -> None:
    """Write the recording's rows into `db`, empty and with the current schema, and publish
    its events, in one command."""

    def command(uow: UnitOfWork) -> None:
        connection = uow.session.connection()
        _insert(connection, recording.rows, skip=FROM_EVENTS)
        if connection.dialect.name == "postgresql":  # ids given: move the sequences past them
            for table in SQLModel.metadata.sorted_tables:
                rows = recording.rows[table.name]
                found = _sequence(connection, table) if rows else None
                if found is not None and table.name not in FROM_EVENTS:
                    last = max(row[found[1]] for row in rows)
                    connection.execute(
                        sa.text("SELECT setval(:n, :v)").bindparams(n=found[0], v=last)
                    )
        for event in recording.events:
            uow.emit(event)

    await db.run(command)
