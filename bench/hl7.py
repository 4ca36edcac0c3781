"""HL7 v2 orders in over MLLP: python -m bench.hl7 --messages 5000.

ORM^O01 new orders (each registering its patient from PID) sent to the real listener with
python-hl7's MLLP client, each waiting for its ACK, first over one connection, then spread over
eight; then every message is sent again. Prints, as the LAST line,
{"messages", "msgs_per_s", "ack_p99_ms", "cpu_ms_per_msg", "msgs_per_s_8", "ack_p99_ms_8", "lost",
"duplicates"}:
lost = messages acknowledged AA without their exam, duplicates = exams beyond one per message
after the re-send.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path

import hl7
import sqlalchemy as sa
from hl7.mllp import open_hl7_connection

from application.demo import seed_reference
from bench._data import create_schema, reset_postgres
from domain.db import Database
from domain.enums import Role
from domain.lifecycle import Actor
from domain.models import Exam
from interfaces.hl7.inbound import Inbound
from interfaces.hl7.listener import hl7_listener

PROCEDURES = ("CTHEAD", "XRCHEST2V", "USABD", "MRBRAIN", "CTAP")


def message(n: int) -> str:
    obr = [""] * 31
    obr[0], obr[1], obr[3], obr[30] = "1", f"B{n:07d}^EPIC", PROCEDURES[n % 5], "^Benchmark"
    return "\r".join(
        [
            f"MSH|^~\\&|EPIC|RIVERSIDE|RADFLOW|MAIN|20261204120000||ORM^O01|B{n:07d}|P|2.5.1",
            f"PID|1||BMRN{n % 1000:06d}^^^RIV^MR||Bench^Pat{n % 1000}||19700101|F",
            "PV1|1|O",
            f"ORC|NW|B{n:07d}^EPIC||||||||||REF01",
            "TQ1|1||||||||R",
            "|".join(["OBR", *obr]),
            "DG1|1||R69^Illness^I10",
        ]
    )


async def sender(
    address: tuple[str, int], frames: list[bytes], latencies: list[float]
) -> list[str]:
    reader, writer = await open_hl7_connection(*address, encoding="utf-8")
    codes = []
    try:
        for frame in frames:
            started = time.perf_counter()
            writer.writeblock(frame)
            await writer.drain()
            ack = await reader.readmessage()
            latencies.append((time.perf_counter() - started) * 1000)
            codes.append(str(ack.extract_field("MSA", field_num=1)))
    finally:
        writer.close()
    return codes


async def phase(
    address: tuple[str, int], numbers: range, connections: int
) -> tuple[float, float, list[str], float]:
    latencies: list[float] = []
    # Encoded before the clock starts: the bench measures the listener, not the client building
    # its messages (python-hl7 parsing one costs about what the listener's handling of it does,
    # on the same event loop). Each is checked to be HL7 by parsing it once here.
    chunks = [
        [str(hl7.parse(message(n))).encode("utf-8") for n in numbers[i::connections]]
        for i in range(connections)
    ]
    started, cpu = time.perf_counter(), time.process_time()
    results = await asyncio.gather(*(sender(address, c, latencies) for c in chunks))
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    p99 = statistics.quantiles(latencies, n=100)[98] if len(latencies) > 1 else latencies[0]
    codes = [code for codes in results for code in codes]
    return len(numbers) / elapsed, p99, codes, cpu * 1000 / len(numbers)


async def main(messages: int, database_url: str | None) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(database_url or f"sqlite:///{Path(tmp) / 'hl7.db'}")
        if db.is_sqlite:
            create_schema(db)
        else:
            await reset_postgres(db)
        await db.run(lambda uow: seed_reference(uow, patients=0))
        inbound = Inbound(db, Actor("bench.hl7", Role.INTEGRATION))
        async with hl7_listener(inbound, "127.0.0.1", 0) as server:
            address = ("127.0.0.1", server.sockets[0].getsockname()[1])
            half = messages // 2
            rate_1, p99_1, codes_1, cpu_1 = await phase(address, range(half), 1)
            rate_8, p99_8, codes_8, _ = await phase(address, range(half, messages), 8)
            _, _, again, _ = await phase(address, range(messages), 8)  # every message re-sent
        exams = await db.read(lambda s: s.scalar(sa.select(sa.func.count()).select_from(Exam)) or 0)
        await db.dispose()
    accepted = [*codes_1, *codes_8].count("AA")
    return {
        "messages": messages,
        "msgs_per_s": round(rate_1, 1),
        "ack_p99_ms": round(p99_1, 2),
        # The process's CPU time per message on one connection (listener, database and this
        # client together): 1000 / it is the rate one idle core would reach.
        "cpu_ms_per_msg": round(cpu_1, 3),
        "msgs_per_s_8": round(rate_8, 1),
        "ack_p99_ms_8": round(p99_8, 2),
        "refused": messages - accepted,
        "resent_refused": len(again) - again.count("AA"),
        "lost": max(0, accepted - exams),
        "duplicates": max(0, exams - accepted),
        "backend": "sqlite" if database_url is None else "postgresql",
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main(args.messages, args.database_url))))
