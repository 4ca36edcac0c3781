"""The Redis broker: delivery, a Redis restart in mid-stream with nothing lost, and two real
replicas (separate uvicorn processes sharing PostgreSQL and Redis)."""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import httpx
import pytest
import redis.asyncio as aioredis
import sqlalchemy as sa

from bench._net import free_port
from domain.db import Database
from domain.models import OutboxEvent
from tests import factories
from tests.conftest import token_for
from tests.live.conftest import WAIT, Server, redis_url, serve_live, subscriber, unique_prefix
from tests.live.test_operations import sample

pytestmark = pytest.mark.redis
ROOT = Path(__file__).resolve().parents[2]
EXAM_STATUS = """subscription ($after: Int) {
  examStatusChanged(after: $after) { eventId type exam { accessionNumber } } }"""
PLACE_ORDER = """mutation($input: PlaceOrderInput!) {
  placeOrder(input: $input) { __typename ... on OrderPlaced { exam { accessionNumber } } } }"""


async def newest(db: Database) -> int:
    return int(await db.read(lambda s: s.scalar(sa.select(sa.func.max(OutboxEvent.id)))) or 0)


@contextmanager
def own_redis() -> Iterator[tuple[str, Path, int]]:
    """A redis-server of this test's own (so it may be stopped), in a temporary folder."""
    redis_url()  # only where Redis tests are meant to run
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed")
    with tempfile.TemporaryDirectory() as folder:
        yield binary, Path(folder), free_port()


def start_redis(binary: str, folder: Path, port: int) -> subprocess.Popen[bytes]:
    # No persistence: a restart loses the stream, the harder case for the reader.
    return subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(folder),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def wait_for_redis(url: str) -> None:
    client = aioredis.from_url(url)
    try:
        async with asyncio.timeout(WAIT):
            while True:
                try:
                    await client.ping()
                    return
                except (OSError, aioredis.ConnectionError):
                    await asyncio.sleep(0.05)
    finally:
        await client.aclose()


async def test_events_travel_through_the_redis_stream(db: Database) -> None:
    await factories.reference(db)
    start = await newest(db)
    prefix = unique_prefix()
    async with (
        serve_live(db, redis_url=redis_url(), RADFLOW_LIVE_PREFIX=prefix) as server,
        subscriber(server) as client,
    ):
        await client.subscribe("1", EXAM_STATUS, {"after": start})
        exams = [await factories.order(db) for _ in range(5)]
        got = [(await client.next("1"))["examStatusChanged"] for _ in exams]
        ready = await server.client.get("/readyz")
    assert [g["exam"]["accessionNumber"] for g in got] == [e.accession_number for e in exams]
    client_ = aioredis.from_url(redis_url())
    try:
        entries = await client_.xrange(f"{prefix}:events")
        await client_.delete(f"{prefix}:events")
    finally:
        await client_.aclose()
    # The stream holds the events under their own ids, in order.
    assert [int(e[0].split(b"-")[0]) for e in entries] == [g["eventId"] for g in got]
    assert ready.status_code == 200 and ready.json()["broker"] == "redis"


async def test_a_redis_restart_mid_stream_loses_nothing(db: Database) -> None:
    await factories.reference(db)
    start = await newest(db)
    with own_redis() as (binary, folder, port):
        url = f"redis://127.0.0.1:{port}/0"
        process = start_redis(binary, folder, port)
        try:
            await wait_for_redis(url)
            async with (
                serve_live(db, redis_url=url, RADFLOW_LIVE_PREFIX=unique_prefix()) as server,
                subscriber(server) as client,
            ):
                await client.subscribe("1", EXAM_STATUS, {"after": start})
                before = [await factories.order(db) for _ in range(3)]
                for _ in before:
                    await client.next("1")
                process.send_signal(signal.SIGKILL)
                process.wait()
                # Redis is gone: commands keep committing, events wait in the outbox.
                during = [await factories.order(db) for _ in range(4)]
                down = await server.client.get("/readyz")
                process = start_redis(binary, folder, port)
                await wait_for_redis(url)
                after = [await factories.order(db) for _ in range(2)]
                got = [(await client.next("1"))["examStatusChanged"] for _ in [*during, *after]]
                async with asyncio.timeout(WAIT):
                    while (await server.client.get("/readyz")).json()[  # noqa: ASYNC110
                        "status"
                    ] != "ready":
                        await asyncio.sleep(0.1)
        finally:
            process.kill()
            process.wait()
    # The replica served all along: ready, with the broker marked degraded.
    assert down.status_code == 200 and down.json()["broker_status"] == "unreachable"
    assert down.json()["status"] == "degraded" and down.json()["degraded"] == ["broker"]
    assert [g["exam"]["accessionNumber"] for g in got] == [
        e.accession_number for e in [*during, *after]
    ]
    ids = [g["eventId"] for g in got]
    assert ids == sorted(set(ids))


def log_lines(caplog: pytest.LogCaptureFixture, text: str) -> int:
    """How many records of the live machinery contain `text`."""
    return sum(text in r.getMessage() for r in caplog.records if r.name == "radflow.live")


async def until(condition: Callable[[], Awaitable[bool]]) -> None:
    """Wait (at most WAIT) until `condition` holds."""
    async with asyncio.timeout(WAIT):
        while not await condition():  # noqa: ASYNC110  (polls another process's state)
            await asyncio.sleep(0.05)


async def test_a_replica_whose_redis_is_down_stays_ready_and_logs_the_outage_once(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    await factories.reference(db)
    caplog.set_level(logging.WARNING, logger="radflow.live")
    with own_redis() as (binary, folder, port):
        url = f"redis://127.0.0.1:{port}/0"
        process = start_redis(binary, folder, port)
        try:
            await wait_for_redis(url)
            async with (
                serve_live(db, redis_url=url, RADFLOW_LIVE_PREFIX=unique_prefix()) as server,
                subscriber(server) as client,
            ):
                await client.subscribe("1", EXAM_STATUS, {"after": await newest(db)})
                live = server.app.state.live
                broker = live.broker

                async def degraded_is(value: float) -> bool:
                    text = (await server.client.get("/metrics")).text
                    return sample(text, "radflow_live_broker_degraded") == value

                async def reader_retried(times: int) -> bool:
                    return bool(broker.failed_attempts >= times)

                await until(lambda: degraded_is(0))
                process.send_signal(signal.SIGKILL)
                process.wait()
                # Several reconnect attempts of the reader, each half a second apart.
                await until(lambda: reader_retried(4))
                ready = await server.client.get("/readyz")
                degraded = await degraded_is(1)
                placed = await server.data(
                    PLACE_ORDER,
                    {
                        "input": {
                            "orderSource": "EPIC",
                            "placerOrderNumber": "DOWN-1",
                            "patientMrn": "MRN000001",
                            "referrerCode": "REF01",
                            "procedureCode": "USABD",
                            "siteCode": "NORTH",
                            "priority": "ROUTINE",
                            "patientClass": "OUTPATIENT",
                            "indication": "Pain",
                            "icd10Code": "R10.9",
                        }
                    },
                    token=token_for("REF01", "referrer"),
                )
                # Subscribers here are fed from the outbox while Redis is away.
                heard = (await client.next("1"))["examStatusChanged"]
                await until(lambda: reader_retried(6))
                lost = log_lines(caplog, "cannot reach redis")
                relay_lost = log_lines(caplog, "outbox relay cannot publish")
                process = start_redis(binary, folder, port)
                await until(lambda: degraded_is(0))
                back = log_lines(caplog, "reconnected")
                relay_back = log_lines(caplog, "outbox relay publishes again")
                after = await server.client.get("/readyz")
        finally:
            process.kill()
            process.wait()
    body = ready.json()
    assert ready.status_code == 200, body
    assert body["status"] == "degraded" and body["degraded"] == ["broker"]
    assert body["broker_status"] == "unreachable" and body["database"] == "ok"
    assert degraded
    assert placed["placeOrder"]["__typename"] == "OrderPlaced"
    assert heard["exam"]["accessionNumber"] == placed["placeOrder"]["exam"]["accessionNumber"]
    assert (lost, relay_lost) == (1, 1)  # across at least six failed attempts
    assert (back, relay_back) == (1, 1)
    assert after.status_code == 200 and after.json()["status"] == "ready"


@asynccontextmanager
async def replica(
    database_url: str, redis: str, prefix: str, *, poll: float = 0.2
) -> AsyncIterator[Server]:
    """A radflow replica in its own process (uvicorn), as deployed."""
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis,
        "RADFLOW_LIVE_PREFIX": prefix,
        "RADFLOW_BALANCER": "0",
        "RADFLOW_OUTBOX_POLL": str(poll),
    }
    process = subprocess.Popen(  # noqa: ASYNC220  (starts it; never waits on the loop)
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "api.app:create_app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            async with asyncio.timeout(60):
                while True:
                    try:
                        if (await client.get("/readyz")).status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    assert process.poll() is None, "the replica exited"
                    await asyncio.sleep(0.1)
            yield Server(port, client, None)
    finally:
        process.terminate()
        try:
            process.wait(timeout=WAIT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.mark.postgres
@pytest.mark.parametrize("backend", ["postgresql"])
async def test_a_mutation_on_one_replica_reaches_a_subscriber_on_another(db: Database) -> None:
    await factories.reference(db)
    start = await newest(db)
    prefix, url = unique_prefix(), redis_url()
    placer = itertools.count(1)
    database_url = db.url.render_as_string(hide_password=False)
    # The second replica's relay never polls, so what it delivers came from the first one
    # through Redis (its own relay wakes only on its own commits, and it makes none).
    async with (
        replica(database_url, url, prefix) as one,
        replica(database_url, url, prefix, poll=3600) as two,
        subscriber(two) as client,
    ):
        await client.subscribe("1", EXAM_STATUS, {"after": start})
        placed = []
        for _ in range(3):
            data = await one.data(
                PLACE_ORDER,
                {
                    "input": {
                        "orderSource": "EPIC",
                        "placerOrderNumber": f"X-{next(placer)}",
                        "patientMrn": "MRN000001",
                        "referrerCode": "REF01",
                        "procedureCode": "USABD",
                        "siteCode": "NORTH",
                        "priority": "ROUTINE",
                        "patientClass": "OUTPATIENT",
                        "indication": "Pain",
                        "icd10Code": "R10.9",
                    }
                },
                token=token_for("REF01", "referrer"),
            )
            placed.append(data["placeOrder"]["exam"]["accessionNumber"])
        got = [(await client.next("1"))["examStatusChanged"] for _ in placed]
    assert [g["exam"]["accessionNumber"] for g in got] == placed
    ids = [g["eventId"] for g in got]
    assert ids == sorted(set(ids))
