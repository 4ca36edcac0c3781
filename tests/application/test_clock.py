"""The clock runs timed work once across replicas, from due times kept in the database."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
import sqlalchemy as sa

from application.clock import WORK, Clock, Job
from domain.db import Database
from tests.conftest import Clock as SetClock

pytestmark = pytest.mark.usefixtures("backend")


def replica(db: Database, name: str, runs: list[str]) -> Clock:
    async def sweep() -> str:
        runs.append(name)
        return f"swept by {name}"

    job = Job("sweep", timedelta(minutes=5), sweep)
    return Clock(db, [job], replica=name, poll_seconds=0.01, lease=timedelta(seconds=30))


async def test_due_work_runs_once_across_replicas_then_waits_for_its_next_due_time(
    db: Database, clock: SetClock
) -> None:
    runs: list[str] = []
    first, second = replica(db, "a", runs), replica(db, "b", runs)

    await first.tick()
    await second.tick()
    assert runs == ["a"]

    clock.advance(minutes=4)
    await second.tick()
    assert runs == ["a"]
    clock.advance(minutes=1)
    await second.tick()
    await first.tick()
    assert runs == ["a", "b"]

    row = (await db.read(lambda s: s.execute(sa.select(WORK)).one()))._mapping
    assert row["runs"] == 2 and row["last_outcome"] == "swept by b"
    assert row["due_at"] == clock.now + timedelta(minutes=5) and row["claimed_by"] is None


async def test_work_that_came_due_while_nothing_ran_runs_once_when_a_replica_starts(
    db: Database, clock: SetClock
) -> None:
    runs: list[str] = []
    await replica(db, "a", runs).tick()
    clock.advance(hours=6)  # 72 periods pass with no replica up

    restarted = replica(db, "c", runs)
    await restarted.tick()
    await restarted.tick()

    assert runs == ["a", "c"]


async def test_a_replica_killed_mid_run_leaves_the_work_to_the_next_after_its_claim(
    db: Database, clock: SetClock
) -> None:
    runs: list[str] = []
    killed, survivor = replica(db, "killed", runs), replica(db, "survivor", runs)
    assert await db.run(killed._claim) == ["sweep"]  # claimed, then the process died

    await survivor.tick()
    assert runs == []
    clock.advance(seconds=31)
    await survivor.tick()
    assert runs == ["survivor"]


async def test_the_loop_runs_due_work_by_itself(db: Database) -> None:
    runs: list[str] = []
    running = replica(db, "a", runs)
    running.start()
    try:
        for _ in range(500):
            if runs:
                break
            await asyncio.sleep(0.01)
    finally:
        await running.stop()
    assert runs == ["a"]
