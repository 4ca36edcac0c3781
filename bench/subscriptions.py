"""Live updates under load: N WebSocket subscribers on one replica while changes commit.

    python -m bench.subscriptions [--subscribers 500] [--rate 20] [--seconds 20]
                                  [--database-url URL] [--redis-url URL]

One radflow replica runs in its own process (uvicorn, Redis broker), so its CPU time can be
read from /proc. Half the subscribers follow `examStatusChanged`, half `worklistChanged` of one
radiologist, each on its own WebSocket, all in this process. The changes commit here, at a
steady rate, through the domain services and an outbox relay of this process publishing to the
same Redis stream: this process plays a second replica taking the writes, so the measured
server does only what a subscription replica does. Orders alternate with supervisor pins that
move one study between two radiologists' worklists.

Latency is from the moment the command committed (`Database.run` returned) to the moment a
subscriber's socket delivered the frame. Without --redis-url (or REDIS_URL) a private
redis-server is started in a temporary folder.

Last line: {"subscribers": .., "events_per_s": .., "p50_ms": .., "p99_ms": ..,
"cpu_us_per_delivery": .., "lost": ..}
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import AsyncExitStack
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from sqlmodel import col
from websockets.asyncio.client import ClientConnection, connect

from api.auth import mint
from api.live.broker import RedisStreamBroker
from api.live.outbox import last_event_id
from api.live.relay import Relay
from api.live.transport import UVICORN_WS_ARGS
from api.relay import to_global_id
from application.demo import seed_reference
from application.settings import Settings
from bench._data import create_schema, reset_postgres
from bench._net import free_port
from domain import models as m
from domain.db import Database, UnitOfWork
from domain.enums import ExamStatus, PatientClass, Priority, Role
from domain.lifecycle import Actor
from domain.services import orders, worklists
from domain.services.orders import new_accession_number

ROOT = Path(__file__).resolve().parents[1]
SUPERVISOR = Actor("sup.bench", Role.SUPERVISOR)
REFERRER = Actor("REF01", Role.REFERRER)
READERS = ("RAD03", "RAD07")  # both read BODY studies at NORTH; the study moves between them
# Subscribers connect as a supervisor (allowed both subscriptions; the server uses the
# development secret, as this process does).
TOKEN = "Bearer " + mint(role=Role.SUPERVISOR, subject="sup.bench", settings=Settings())
EXAM_DOC = "subscription { examStatusChanged { eventId toStatus exam { accessionNumber } } }"
WORKLIST_DOC = (
    "subscription ($r: ID!) { worklistChanged(radiologistId: $r) "
    "{ eventId change exam { accessionNumber } } }"
)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def prepare(db: Database) -> tuple[int, int]:
    """Reference data, two readers on shift, one study ready to read; (study id, reader id)."""
    if db.sync_engine is not None:
        create_schema(db)
    else:
        await reset_postgres(db)
    await db.run(lambda uow: seed_reference(uow, patients=50))
    for code in READERS:

        def start_shift(uow: UnitOfWork, code: str = code) -> None:
            worklists.start_shift(
                uow=uow,
                actor=SUPERVISOR,
                radiologist_code=code,
                site_code="NORTH",
                ends_at=uow.now + timedelta(hours=12),
            )

        await db.run(start_shift)

    def ready_study(uow: Any) -> tuple[int, int]:
        s = uow.session
        exam = m.Exam(
            accession_number=new_accession_number(),
            order_source="BENCH",
            placer_order_number="READY-1",
            patient_id=s.scalar(sa.select(col(m.Patient.id)).limit(1)),
            referrer_id=s.scalar(sa.select(col(m.Referrer.id)).limit(1)),
            procedure_id=s.scalar(
                sa.select(col(m.Procedure.id)).where(col(m.Procedure.code) == "USABD")
            ),
            site_id=s.scalar(sa.select(col(m.Site.id)).where(col(m.Site.code) == "NORTH")),
            priority=Priority.ROUTINE,
            patient_class=PatientClass.OUTPATIENT,
            indication="Pain",
            icd10_code="R52",
            status=ExamStatus.READY_FOR_READ,
            ordered_at=uow.now,
            status_changed_at=uow.now,
        )
        uow.add(exam)
        uow.flush()
        reader = s.scalar(
            sa.select(col(m.Radiologist.id)).where(col(m.Radiologist.code) == READERS[0])
        )
        assert exam.id is not None and reader is not None
        return exam.id, reader

    return await db.run(ready_study)


class Client:
    """One subscriber: a WebSocket and the frames it received, stamped on arrival."""

    def __init__(self, ws: ClientConnection, kind: str) -> None:
        self.ws = ws
        self.kind = kind
        self.frames: list[tuple[float, str | bytes]] = []
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        clock = time.perf_counter
        frames = self.frames
        try:
            async for frame in self.ws:
                frames.append((clock(), frame))
        except Exception:
            pass


async def subscribe(url: str, kind: str, reader_id: int) -> Client:
    """Connect, initialise and subscribe one client."""
    ws = await connect(
        url,
        subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
        open_timeout=60,
        max_queue=None,
    )
    await ws.send(json.dumps({"type": "connection_init", "payload": {"authorization": TOKEN}}))
    assert json.loads(await ws.recv())["type"] == "connection_ack"
    document, variables = (
        (EXAM_DOC, {})
        if kind == "exam"
        else (WORKLIST_DOC, {"r": to_global_id("Radiologist", reader_id)})
    )
    await ws.send(
        json.dumps(
            {"id": "1", "type": "subscribe", "payload": {"query": document, "variables": variables}}
        )
    )
    return Client(ws, kind)


class Writer:
    """Commits changes and remembers, per event id, when its command committed."""

    def __init__(self, db: Database, study_id: int) -> None:
        self.db = db
        self.study_id = study_id
        self.committed: dict[int, tuple[float, int]] = {}  # event id -> (time, command)
        self.commands: list[str] = []  # the kind of each command
        self.counts = {"exam": 0, "worklist": 0}
        self._placer = 0
        self._pins = 0
        self._last = 0

    async def start(self) -> None:
        self._last = await last_event_id(self.db)

    async def change(self, kind: str) -> None:
        if kind == "exam":
            self._placer += 1
            placer = f"BENCH-{self._placer}"
            await self.db.run(
                lambda uow: orders.place_order(
                    uow=uow,
                    actor=REFERRER,
                    order_source="BENCH",
                    placer_order_number=placer,
                    patient_mrn="MRN000001",
                    referrer_code="REF01",
                    procedure_code="USABD",
                    site_code="NORTH",
                    priority=Priority.ROUTINE,
                    patient_class=PatientClass.OUTPATIENT,
                    indication="Pain",
                    icd10_code="R10.9",
                )
            )
        else:
            self._pins += 1
            reader = READERS[self._pins % 2]
            await self.db.run(
                lambda uow: worklists.pin_assignment(
                    uow=uow,
                    actor=SUPERVISOR,
                    exam_id=self.study_id,
                    radiologist_code=reader,
                    reason="bench",
                )
            )
        at = time.perf_counter()
        newest = await last_event_id(self.db)  # one writer: these ids are this command's
        for event_id in range(self._last + 1, newest + 1):
            self.committed[event_id] = (at, len(self.commands))
        self.commands.append(kind)
        self._last = newest
        self.counts[kind] += 1


async def run(args: argparse.Namespace) -> dict[str, Any]:
    async with AsyncExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        redis_url = args.redis_url or os.environ.get("REDIS_URL")
        if not redis_url:
            binary = shutil.which("redis-server")
            if binary is None:
                raise SystemExit("no Redis: pass --redis-url or install redis-server")
            port = free_port()
            redis = subprocess.Popen(  # noqa: ASYNC220  (starts it, no wait)
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
            )
            stack.callback(redis.wait)
            stack.callback(redis.kill)
            redis_url = f"redis://127.0.0.1:{port}/0"
        database_url = args.database_url or f"sqlite:///{folder / 'bench.db'}"
        db = Database(database_url)
        stack.push_async_callback(db.dispose)
        study_id, reader_id = await prepare(db)
        prefix = f"radflow-bench-{uuid.uuid4().hex[:8]}"

        # This process's relay: publishes the writer's commits to the replica's stream.
        broker = RedisStreamBroker(redis_url, prefix=prefix, maxlen=100_000)
        stack.push_async_callback(broker.close)
        relay = Relay(db, broker, poll_seconds=1.0)
        relay.start(await last_event_id(db))
        stack.push_async_callback(relay.stop)

        port = free_port()
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "RADFLOW_LIVE_PREFIX": prefix,
            "RADFLOW_BALANCER": "0",
            "RADFLOW_WS_INIT_TIMEOUT": "60",
        }
        server = subprocess.Popen(  # noqa: ASYNC220  (starts it, no wait)
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
                "--backlog",
                "4096",
                *UVICORN_WS_ARGS,
            ],
            cwd=ROOT,
            env=env,
        )

        def stop_server() -> None:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()

        stack.callback(stop_server)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            for _ in range(600):
                try:
                    if (await http.get("/readyz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
            else:
                raise SystemExit("the server did not become ready")

        url = f"ws://127.0.0.1:{port}/graphql"
        clients: list[Client] = []
        for n in range(args.subscribers):
            clients.append(await subscribe(url, "exam" if n % 2 == 0 else "worklist", reader_id))

        async def close_clients() -> None:
            for client in clients:
                await client.ws.close()
                await client.task

        stack.push_async_callback(close_clients)

        writer = Writer(db, study_id)
        await writer.start()
        # Warm-up: every subscriber receives at least one event of its kind, so all are live.
        deadline = time.perf_counter() + 60
        while any(not c.frames for c in clients):
            if time.perf_counter() > deadline:
                raise SystemExit("subscribers did not all receive the warm-up events")
            await writer.change("exam")
            await writer.change("worklist")
            await asyncio.sleep(0.2)
        await asyncio.sleep(0.5)
        first_measured = writer._last + 1
        first_command = len(writer.commands)
        seen_before = [len(c.frames) for c in clients]
        counts_before = dict(writer.counts)

        cpu_before = cpu_seconds(server.pid)
        started = time.perf_counter()
        total = int(args.rate * args.seconds)
        for k in range(total):
            target = started + k / args.rate
            delay = target - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            await writer.change("exam" if k % 2 == 0 else "worklist")
        elapsed = time.perf_counter() - started
        expected = {kind: writer.counts[kind] - counts_before[kind] for kind in writer.counts}
        # Drain: wait (bounded) until every subscriber has its events.
        drain_deadline = time.perf_counter() + 30
        while time.perf_counter() < drain_deadline:
            if all(
                len(c.frames) - before >= expected[c.kind]
                for c, before in zip(clients, seen_before, strict=True)
            ):
                break
            await asyncio.sleep(0.05)
        cpu_after = cpu_seconds(server.pid)

        latencies: list[float] = []
        reached: dict[int, int] = {}
        lost = 0
        deliveries = 0
        for client, before in zip(clients, seen_before, strict=True):
            got = 0
            for at, frame in client.frames[before:]:
                message = json.loads(frame)
                if message.get("type") != "next":
                    continue
                data = message["payload"]["data"]
                event_id = next(iter(data.values()))["eventId"]
                if event_id < first_measured or event_id not in writer.committed:
                    continue
                committed_at, command = writer.committed[event_id]
                latencies.append((at - committed_at) * 1000)
                reached[command] = reached.get(command, 0) + 1
                got += 1
            deliveries += got
            lost += max(0, expected[client.kind] - got)
        latencies.sort()
        events = sum(expected.values())
        # Each change is for one half of the subscribers (its kind's); it must reach them.
        half = args.subscribers // 2
        under_half = sum(
            1 for k in range(first_command, len(writer.commands)) if reached.get(k, 0) < half
        )

        def pct(q: float) -> float:
            return round(latencies[min(len(latencies) - 1, int(q * len(latencies)))], 2)

        return {
            "subscribers": args.subscribers,
            "events_per_s": round(events / elapsed, 2),
            "p50_ms": pct(0.50) if latencies else None,
            "p99_ms": pct(0.99) if latencies else None,
            "max_ms": round(latencies[-1], 2) if latencies else None,
            "deliveries": deliveries,
            "server_cpu_s": round(cpu_after - cpu_before, 2),
            "cpu_us_per_delivery": round((cpu_after - cpu_before) / max(deliveries, 1) * 1e6, 1),
            "events_reaching_under_half_of_subscribers": under_half,
            "lost": lost,
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--subscribers", type=int, default=500)
    parser.add_argument("--rate", type=float, default=20.0, help="changes committed per second")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--redis-url", default=None)
    result = asyncio.run(run(parser.parse_args()))
    summary = {
        k: result[k]
        for k in ("subscribers", "events_per_s", "p50_ms", "p99_ms", "cpu_us_per_delivery", "lost")
    }
    print(json.dumps({k: v for k, v in result.items() if k not in summary}))
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
