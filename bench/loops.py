"""Critical results escalated on the clock and delivered: python -m bench.loops --results 2000.

`results` critical results are communicated (rows written directly, one per exam placed through
the real order service), their acknowledgement windows ending over the next `--spread` seconds:
a third acknowledged in time, a third acknowledged late (after their window, so escalated
once), a third never acknowledged (escalated once within the run). Two replicas, each a real
`radflow clock` process, run the escalation and delivery jobs against one database (a SQLite
file, or PostgreSQL with --database-url) and a webhook receiver on loopback that refuses the
first try of every delivery; halfway, replica A is killed with SIGKILL wherever it is, its
claims left behind. Prints, as the LAST line, {"results", "escalations_expected",
"escalations_sent", "late_s_p99", "notifications", "delivered", "lost",
"duplicates_seen_by_receiver", ...}: late = from a result's window end to its escalation's
acceptance by the receiver; lost = escalations expected but never accepted; duplicates =
requests whose delivery id the receiver had already accepted (a re-delivery: the same id,
never a second message with a new one, which `escalations_per_result_max` would show).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import socket
import statistics
import sys
import tempfile
import time
from collections import Counter
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import uvicorn
from sqlmodel import col
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from application.demo import seed_reference
from bench._data import create_schema, reset_postgres
from domain.db import Database
from domain.enums import (
    CriticalLevel,
    NotificationChannel,
    NotificationTemplate,
    PatientClass,
    Priority,
    Role,
)
from domain.lifecycle import Actor
from domain.models import Notification, ResultCommunication
from domain.models._columns import core_table
from domain.services.orders import place_order
from domain.types import utcnow

REFERRER = Actor("REF01", Role.REFERRER)
COMMUNICATIONS = core_table(ResultCommunication)
NOTIFICATIONS = core_table(Notification)
ESCALATION = NOTIFICATIONS.c.template == NotificationTemplate.CRITICAL_RESULT_ESCALATION


class Receiver:
    """Refuses the first try of each delivery id, accepts the rest, remembers when."""

    def __init__(self) -> None:
        self.tries: dict[str, int] = {}
        self.accepted: dict[str, float] = {}
        self.duplicates = 0

    async def handle(self, request: Request) -> Response:
        delivery = request.headers["x-radflow-delivery"]
        self.tries[delivery] = self.tries.get(delivery, 0) + 1
        if self.tries[delivery] == 1:
            return JSONResponse({"refused": "first try"}, status_code=503)
        if delivery in self.accepted:
            self.duplicates += 1
        else:
            self.accepted[delivery] = time.time()
        return JSONResponse({"ok": True})


def _order(uow: Any, *, n: int) -> Any:
    return place_order(
        uow=uow,
        actor=REFERRER,
        order_source="BENCH",
        placer_order_number=f"L{n:07d}",
        patient_mrn=f"MRN{n % 50 + 1:06d}",
        procedure_code="CTHEAD",
        referrer_code="REF01",
        site_code="MAIN",
        priority=Priority.STAT,
        patient_class=PatientClass.ED,
        indication="Headache",
        icd10_code="R51",
    )


async def place_orders(db: Database, results: int) -> list[int]:
    """The department and `results` orders (an exam each, through the order service)."""
    await db.run(lambda uow: seed_reference(uow, patients=50))
    exam_ids = []
    for n in range(results):
        placed = await db.run(partial(_order, n=n))
        exam_ids.append(placed.exam.id)
    return exam_ids


async def communicate(db: Database, exam_ids: list[int], spread: float) -> dict[int, float]:
    """A critical result communicated for each exam, windows ending from a second from now
    over `spread` seconds; the window end of each result not acknowledged in time, by
    communication id."""
    start = utcnow() + timedelta(seconds=1)
    rows = []
    for n, exam_id in enumerate(exam_ids):
        due = start + timedelta(seconds=spread * n / len(exam_ids))
        rows.append(
            {
                "exam_id": exam_id,
                "referrer_id": 1,
                "critical_level": CriticalLevel.CRITICAL,
                "channel": NotificationChannel.PHONE,
                "notified_at": due - timedelta(minutes=60),
                "notified_by": "RAD01",
                "acknowledge_by": due,
                # a third in time; the others wait (a third is acknowledged late, below)
                "acknowledged_at": due - timedelta(minutes=5) if n % 3 == 0 else None,
                "acknowledged_by": "REF01" if n % 3 == 0 else None,
                "escalation_count": 0,
            }
        )
    await db.run(lambda uow: uow.session.execute(sa.insert(ResultCommunication), rows))
    found = await db.read(
        lambda s: list(
            s.execute(
                sa.select(COMMUNICATIONS.c.id, COMMUNICATIONS.c.acknowledge_by).where(
                    COMMUNICATIONS.c.acknowledged_at.is_(None)
                )
            )
        )
    )
    return {int(i): due.timestamp() for i, due in found}


async def replica(name: str, database_url: str, webhook: str) -> asyncio.subprocess.Process:
    """A `radflow clock` process (escalation and delivery on a fast clock), once it runs."""
    env = os.environ | {
        "DATABASE_URL": database_url,
        "RADFLOW_REPLICA_ID": name,
        "RADFLOW_WEBHOOK_URL": webhook,
        "RADFLOW_WEBHOOK_SECRET": "bench",
        "RADFLOW_WEBHOOK_CHANNELS": "PHONE",
        "RADFLOW_ESCALATION_EVERY": "0.5",
        "RADFLOW_NOTIFY_EVERY": "0.25",
        "RADFLOW_NOTIFY_BACKOFF": "0.2",
        "RADFLOW_CLOCK_LEASE": "2.0",
        "RADFLOW_CLOCK_POLL": "0.05",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "api.cli", "clock", env=env, stdout=asyncio.subprocess.PIPE
    )
    assert process.stdout is not None
    line = await asyncio.wait_for(process.stdout.readline(), timeout=120)
    if not line.startswith(b"radflow clock"):
        raise RuntimeError(f"replica {name} did not start (exit {await process.wait()})")
    return process


async def acknowledge_late(db: Database, due: dict[int, float]) -> None:
    """Half of the waiting results are acknowledged a moment after their window ended."""
    late = sorted((at, i) for n, (i, at) in enumerate(sorted(due.items())) if n % 2 == 0)
    for at, communication_id in late:
        await asyncio.sleep(max(0.0, at + 0.3 - time.time()))

        def acknowledge(uow: Any, i: int = communication_id) -> None:
            row = uow.session.get(ResultCommunication, i)
            row.acknowledged_at, row.acknowledged_by = uow.now, "REF01"

        await db.run(acknowledge)


async def main(results: int, spread: float, database_url: str | None) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        url = database_url or f"sqlite:///{Path(tmp) / 'loops.db'}"
        db = Database(url)
        if database_url:
            await reset_postgres(db)
        else:
            create_schema(db)
        exam_ids = await place_orders(db, results)
        receiver = Receiver()
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        server = uvicorn.Server(
            uvicorn.Config(
                Starlette(routes=[Route("/hook", receiver.handle, methods=["POST"])]),
                log_level="warning",
            )
        )
        serving = asyncio.create_task(server.serve(sockets=[sock]))
        webhook = f"http://127.0.0.1:{port}/hook"
        a, b = [await replica(name, url, webhook) for name in ("A", "B")]
        due = await communicate(db, exam_ids, spread)
        late_acks = asyncio.create_task(acknowledge_late(db, due))
        await asyncio.sleep(1 + spread / 2)
        a.send_signal(signal.SIGKILL)  # replica A dies halfway, claims and all
        killed = await a.wait()
        await late_acks

        def escalations(session: Any) -> list[Any]:
            return list(session.execute(sa.select(NOTIFICATIONS.c.delivery_id).where(ESCALATION)))

        def must_escalate(session: Any) -> int:
            """Never acknowledged, or acknowledged only after an escalation."""
            return int(
                session.scalar(
                    sa.select(sa.func.count()).where(
                        sa.or_(
                            col(ResultCommunication.acknowledged_at).is_(None),
                            col(ResultCommunication.escalation_count) > 0,
                        )
                    )
                )
                or 0
            )

        last_due = max(due.values())
        # Nothing to check before the last window ends: leave the CPU to the receiver.
        await asyncio.sleep(max(0.0, last_due + 1 - time.time()))
        deadline = time.time() + 60
        while time.time() < deadline:
            sent = await db.read(escalations)
            expected = await db.read(must_escalate)
            done = [r for r in sent if r.delivery_id in receiver.accepted]
            if time.time() > last_due + 1 and len(done) >= expected:
                break
            await asyncio.sleep(0.2)
        b.terminate()
        await b.wait()
        server.should_exit = True
        await serving
        sock.close()
        # the escalation of each result, by its exam: when its window ended, when it arrived
        comms: dict[int, int] = await db.read(
            lambda s: {
                int(e): int(i)
                for e, i in s.execute(
                    sa.select(COMMUNICATIONS.c.exam_id, COMMUNICATIONS.c.id)
                ).all()
            }
        )
        exam_of: dict[str, int] = await db.read(
            lambda s: {
                str(d): int(e)
                for d, e in s.execute(
                    sa.select(NOTIFICATIONS.c.delivery_id, NOTIFICATIONS.c.exam_id).where(
                        ESCALATION
                    )
                )
            }
        )
        late = sorted(
            receiver.accepted[d] - due[comms[e]]
            for d, e in exam_of.items()
            if d in receiver.accepted and comms.get(e, -1) in due
        )
        per_result = Counter(exam_of.values())
        escalated = len(exam_of)
        delivered = sum(1 for d in exam_of if d in receiver.accepted)
        await db.dispose()
        p99 = late[min(len(late) - 1, int(len(late) * 0.99))] if late else None
        return {
            "backend": "sqlite" if database_url is None else "postgresql",
            "replica_a_exit": killed,
            "results": results,
            "never_or_late_acknowledged": len(due),
            "escalations_expected": int(expected or 0),
            "escalations_sent": delivered,
            "late_s_p50": round(statistics.median(late), 3) if late else None,
            "late_s_p99": round(p99, 3) if p99 is not None else None,
            "notifications": escalated,
            "delivered": delivered,
            "lost": int(expected or 0) - delivered,
            "tries": sum(receiver.tries.values()),
            "duplicates_seen_by_receiver": receiver.duplicates,
            "escalations_per_result_max": max(per_result.values(), default=0),
        }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--results", type=int, default=2000)
    parser.add_argument("--spread", type=float, default=20.0, help="seconds windows end over")
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        print(json.dumps(asyncio.run(main(args.results, args.spread, args.database_url))))
