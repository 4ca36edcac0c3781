"""Two real replicas (uvicorn processes) on one PostgreSQL database: one runs the balancer; kill
it with SIGKILL and the other takes over within 5 s and re-plans; no epoch has two leaders."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from domain.db import Database
from domain.enums import ExamStatus
from domain.models import BalancerRun, Exam, Read
from domain.services import acquisition
from tests.conftest import EMPTY_POSTGRES, Clock, token_for
from tests.factories import TECH, drive, header_for, order, reference

ROOT = Path(__file__).resolve().parents[2]
TAKEOVER_LIMIT_S = 5.0  # the requirement
STATUS = "{ balancerStatus { replica leading leader { replica epoch } } }"
ADMIN = {"Authorization": f"Bearer {token_for('admin', 'admin')}"}


class Replica:
    """One `uvicorn api.app:create_app` process on a free loopback port."""

    def __init__(self, name: str, url: str, logs: Path, **extra_env: str) -> None:
        self.name = name
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
        env.update(
            DATABASE_URL=url,
            RADFLOW_REPLICA_ID=name,
            RADFLOW_BALANCER="true",
            RADFLOW_PRODUCTION="false",
            **extra_env,
        )
        self.log = logs / f"{name}.log"
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    "api.app:create_app",
                    "--factory",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                    "--log-level",
                    "warning",
                ],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.client = httpx.AsyncClient(base_url=f"http://127.0.0.1:{self.port}", timeout=10)

    async def ready(self) -> None:
        for _ in range(600):
            assert self.process.poll() is None, self.log.read_text()
            try:
                if (await self.client.get("/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
        raise AssertionError(f"{self.name} did not start: {self.log.read_text()}")

    async def status(self) -> dict[str, Any]:
        response = await self.client.post("/graphql", json={"query": STATUS}, headers=ADMIN)
        body = response.json()
        assert "errors" not in body, body
        return body["data"]["balancerStatus"]  # type: ignore[no-any-return]

    async def close(self) -> None:
        await self.client.aclose()
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=30)


@contextmanager
def logs_on_failure(replicas: list[Replica]) -> Iterator[None]:
    try:
        yield
    except BaseException:
        for replica in replicas:
            print(f"--- {replica.name} log ---\n{replica.log.read_text()}")
        raise


@pytest.fixture
async def department(postgres_schema: str) -> AsyncIterator[Database]:
    """The shared database, emptied, with reference data; its clock is the real time."""
    clock = Clock()
    clock.now = datetime.now(UTC)
    db = Database(postgres_schema, clock=clock)
    assert db.async_engine is not None
    async with db.async_engine.begin() as connection:
        await connection.execute(EMPTY_POSTGRES)
    await reference(db)  # RAD03 on shift from now
    yield db
    await db.dispose()


async def acquired_study(db: Database) -> int:
    exam = await drive(db, await order(db), ExamStatus.ACQUIRED)
    assert exam.id is not None
    return exam.id


async def make_ready(db: Database, exam_id: int) -> None:
    """The last two steps, committed here: replicas learn of it from the outbox."""
    exam = await db.read(lambda s: s.get(Exam, exam_id))
    assert exam is not None
    header = await header_for(db, exam)
    await db.run(
        lambda uow: acquisition.validate_metadata(
            uow=uow, actor=TECH, exam_id=exam_id, header=header
        )
    )
    await db.run(
        lambda uow: acquisition.register_storage(
            uow=uow,
            actor=TECH,
            exam_id=exam_id,
            study_instance_uid=f"1.2.826.0.9.{exam_id}",
            archive_location="pacs://a/1",
        )
    )


async def assigned_by(db: Database, exam_id: int, leader: str) -> BalancerRun:
    """Wait until the study is on a worklist; the latest run of `leader` that moved studies."""

    def look(session: Session) -> BalancerRun | None:
        placed = session.scalars(
            sa.select(Read).where(Read.exam_id == exam_id, Read.ended_at.is_(None))
        ).first()  # type: ignore[union-attr]
        if placed is None:
            return None
        return session.scalars(
            sa.select(BalancerRun)
            .where(BalancerRun.leader == leader, BalancerRun.moved > 0)
            .order_by(BalancerRun.id.desc())
        ).first()  # type: ignore[union-attr]

    for _ in range(300):
        found = await db.read(look)
        if found is not None:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"study {exam_id} was never assigned by {leader}")


async def lease_running(db: Database) -> bool:
    """Whether somebody holds the balancer's lease (it has not run out nor been released)."""
    return bool(
        await db.read(
            lambda s: s.scalar(
                sa.text(
                    "SELECT count(*) FROM balancer_leadership "
                    "WHERE lease_expires_at > clock_timestamp()"
                )
            )
        )
    )


@pytest.mark.postgres
@pytest.mark.slow
async def test_the_follower_takes_over_within_five_seconds_of_a_sigkill(
    department: Database, postgres_schema: str, tmp_path: Path
) -> None:
    db = department
    first, second = await acquired_study(db), await acquired_study(db)
    replicas = [
        Replica("replica-1", postgres_schema, tmp_path),
        Replica("replica-2", postgres_schema, tmp_path),
    ]
    try:
        with logs_on_failure(replicas):
            await asyncio.gather(*(r.ready() for r in replicas))
            leader = follower = None
            for _ in range(200):
                states = [await r.status() for r in replicas]
                if any(s["leading"] for s in states):
                    break
                await asyncio.sleep(0.05)
            assert [s["leading"] for s in states].count(True) == 1, states
            leader, follower = replicas if states[0]["leading"] else replicas[::-1]
            assert {s["leader"]["replica"] for s in states} == {leader.name}

            await make_ready(db, first)  # committed outside both replicas
            before = await assigned_by(db, first, leader.name)

            leader.process.send_signal(signal.SIGKILL)
            killed = time.monotonic()
            while not (await follower.status())["leading"]:
                assert time.monotonic() - killed < TAKEOVER_LIMIT_S, (
                    f"{follower.name} did not take the balancer over within "
                    f"{TAKEOVER_LIMIT_S} s of the leader's SIGKILL"
                )
                await asyncio.sleep(0.02)
            takeover = time.monotonic() - killed
            print(f"\ntakeover after SIGKILL: {takeover:.2f} s")
            status = await follower.status()
            assert status["leader"] == {"replica": follower.name, "epoch": before.epoch + 1}  # type: ignore[operator]

            await make_ready(db, second)
            after = await assigned_by(db, second, follower.name)
            assert after.epoch == before.epoch + 1  # type: ignore[operator]

            runs = await db.read(
                lambda s: list(
                    s.execute(
                        sa.select(BalancerRun.id, BalancerRun.epoch, BalancerRun.leader).order_by(
                            BalancerRun.id
                        )
                    )
                )
            )
            leaders_by_epoch: dict[int, set[str]] = {}
            for _, epoch, name in runs:
                leaders_by_epoch.setdefault(epoch, set()).add(name)
            assert all(len(names) == 1 for names in leaders_by_epoch.values()), runs
            epochs = [epoch for _, epoch, _ in runs]
            assert epochs == sorted(epochs), runs  # committed in election order
            assert None not in epochs

            # A clean stop releases leadership (SIGTERM: uvicorn runs the lifespan's end, then
            # exits re-raising the signal it caught).
            follower.process.send_signal(signal.SIGTERM)
            assert follower.process.wait(timeout=30) in (0, -signal.SIGTERM)
            assert "Traceback" not in follower.log.read_text()
            assert not await lease_running(db)
    finally:
        for replica in replicas:
            await replica.close()
