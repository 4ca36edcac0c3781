"""A balancer leader stalled mid-commit (SIGSTOP while it holds the fence's share lock) loses
the balancer within the lease's bound; resumed, it commits nothing stale and steps down."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from application.planning.runner import COMMIT_GATE_ENV
from domain.db import Database
from domain.models import BalancerRun, Read
from tests.replicas.test_failover import (
    Replica,
    acquired_study,
    assigned_by,
    department,  # noqa: F401 (a fixture)
    logs_on_failure,
    make_ready,
)

TAKEOVER_LIMIT_S = 10.0  # the bound, with the default lease (5 s) and poll (1 s)


async def eventually(
    condition_met: Callable[[], Awaitable[bool]], what: str, *, within: float = 60.0
) -> None:
    """Poll an async condition until it holds (the machine may be slow)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if await condition_met():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"never: {what}")


async def runs_of(db: Database, epoch: int) -> int:
    return await db.read(
        lambda s: (
            s.scalar(
                sa.select(sa.func.count())
                .select_from(BalancerRun)
                .where(BalancerRun.epoch == epoch)
            )
            or 0
        )
    )


@pytest.mark.postgres
@pytest.mark.slow
async def test_a_leader_paused_mid_commit_is_replaced_within_the_lease_and_commits_nothing(
    department: Database,  # noqa: F811
    postgres_schema: str,
    tmp_path: Path,
) -> None:
    db = department
    exam_id = await acquired_study(db)
    gate = tmp_path / "gate"
    gate.mkdir()
    stalled = Replica("replica-1", postgres_schema, tmp_path, **{COMMIT_GATE_ENV: str(gate)})
    replicas = [stalled]
    try:
        with logs_on_failure(replicas):
            await stalled.ready()

            async def stalled_leads() -> bool:
                return bool((await stalled.status())["leading"])

            await eventually(stalled_leads, "replica-1 leads")
            epoch = (await stalled.status())["leader"]["epoch"]
            await eventually(lambda: _ran(db, epoch), "replica-1's first run committed")
            successor = Replica("replica-2", postgres_schema, tmp_path)
            replicas.append(successor)
            await successor.ready()
            assert not (await successor.status())["leading"]
            committed_before = await runs_of(db, epoch)

            # The next plan commit of replica-1 stops right after its epoch check, holding
            # the share lock on the leadership row; then the process is paused.
            (gate / "armed").touch()
            await make_ready(db, exam_id)

            async def held() -> bool:
                return (gate / "held").exists()

            await eventually(held, "replica-1 inside a plan commit")
            stalled.process.send_signal(signal.SIGSTOP)
            paused = time.monotonic()
            while not (await successor.status())["leading"]:
                assert time.monotonic() - paused < TAKEOVER_LIMIT_S, (
                    f"replica-2 did not take the balancer over within {TAKEOVER_LIMIT_S} s "
                    "of pausing the leader mid-commit"
                )
                await asyncio.sleep(0.02)
            print(f"\ntakeover after SIGSTOP mid-commit: {time.monotonic() - paused:.2f} s")
            status = await successor.status()
            assert status["leader"] == {"replica": successor.name, "epoch": epoch + 1}
            placed = await assigned_by(db, exam_id, successor.name)
            assert placed.epoch == epoch + 1

            (gate / "released").touch()
            stalled.process.send_signal(signal.SIGCONT)

            async def stepped_down() -> bool:
                return not (await stalled.status())["leading"]

            await eventually(stepped_down, "replica-1 steps down")

            async def gave_up() -> bool:  # the held commit went on, on a session PostgreSQL
                return "idle-in-transaction timeout" in stalled.log.read_text()  # had ended

            await eventually(gave_up, "replica-1's held commit fails")
            assert await runs_of(db, epoch) == committed_before  # nothing stale committed
            reads = await db.read(
                lambda s: list(s.scalars(sa.select(Read).where(Read.exam_id == exam_id)))
            )
            assert len(reads) == 1  # placed once, by the successor
            status = await stalled.status()
            assert status["leader"] == {"replica": successor.name, "epoch": epoch + 1}
            assert (await successor.status())["leading"]
    finally:
        for replica in replicas:
            if replica.process.poll() is None:
                replica.process.send_signal(signal.SIGCONT)
            await replica.close()


async def _ran(db: Database, epoch: int) -> bool:
    def look(session: Session) -> bool:
        return (
            session.scalar(
                sa.select(sa.func.count())
                .select_from(BalancerRun)
                .where(BalancerRun.epoch == epoch, BalancerRun.leader == "replica-1")
            )
            != 0
        )

    return await db.read(look)
