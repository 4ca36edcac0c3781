"""Test data built once and put back (tests/snapshots.py) is the data the services build."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import SQLModel

from domain.db import Database
from domain.enums import CriticalLevel, ExamStatus
from domain.events import DomainEvent
from tests.conftest import EMPTY_POSTGRES, Clock
from tests.factories import drive, order, reference, seed
from tests.snapshots import is_empty, on_connection, record, replay, restore, take


async def empty(db: Database) -> None:
    """Every row gone and every id counter back at its start, as in a new database."""

    def clear(connection: sa.Connection) -> None:
        if connection.dialect.name == "postgresql":
            connection.execute(EMPTY_POSTGRES)
            return
        for table in reversed(SQLModel.metadata.sorted_tables):
            connection.execute(table.delete())
        connection.execute(sa.text("DELETE FROM sqlite_sequence"))

    await on_connection(db, clear)
    assert await on_connection(db, is_empty)


async def test_a_replayed_department_is_the_one_the_services_build(db: Database) -> None:
    published: list[DomainEvent] = []
    db.on_commit(published.extend)
    await seed(db)
    seeded, seeded_events = await take(db), list(published)
    assert seeded.rows["patients"] and seeded.rows["shifts"] and seeded_events

    await empty(db)
    published.clear()
    await replay(db, await record(seed, db.clock()))
    assert await take(db) == seeded  # rows and id counters
    assert published == seeded_events  # the listeners heard the same


async def test_reference_replays_into_an_empty_database_only(db: Database) -> None:
    await reference(db)
    department = await take(db)
    await empty(db)
    await seed(db)
    assert await take(db) == department
    # Not empty: seeded for real, and the services refuse a second department.
    with pytest.raises(sa.exc.IntegrityError):
        await reference(db)


async def test_a_restored_database_continues_as_the_one_it_was_taken_from(db: Database) -> None:
    await reference(db)
    await drive(db, await order(db), ExamStatus.COMMUNICATED, critical=CriticalLevel.CRITICAL)
    taken = await take(db)
    assert taken.rows["exam_status_history"] and taken.rows["event_outbox"]

    async def ids_after_next_exam() -> tuple[dict[str, list[tuple[Any, ...]]], tuple[Any, ...]]:
        """The ids of every row once one more exam is ordered and scheduled (its accession
        number is drawn at random), and the id counters."""
        await drive(db, await order(db, placer="NEXT"), ExamStatus.SCHEDULED)
        after = await take(db)
        keys = {
            t.name: [
                tuple(row[c.name] for c in t.primary_key.columns) for row in after.rows[t.name]
            ]
            for t in SQLModel.metadata.sorted_tables
        }
        return keys, after.counters

    expected = await ids_after_next_exam()
    await empty(db)
    await restore(db, taken)
    assert await take(db) == taken
    assert await ids_after_next_exam() == expected


async def test_emptying_postgresql_is_truncating_it_and_restarting_its_ids(
    postgres_schema: str,
) -> None:
    db = Database(postgres_schema, clock=Clock())
    assert db.async_engine is not None
    tables = ", ".join(t.name for t in SQLModel.metadata.sorted_tables)
    emptied = []
    for statement in (EMPTY_POSTGRES, sa.text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")):
        async with db.async_engine.begin() as connection:
            await connection.execute(EMPTY_POSTGRES)
        await reference(db)
        await drive(db, await order(db), ExamStatus.FINAL)
        async with db.async_engine.begin() as connection:
            await connection.execute(statement)
        emptied.append(await take(db))
    await db.dispose()
    assert emptied[0] == emptied[1]
    assert not any(emptied[0].rows.values()) and emptied[0].counters
