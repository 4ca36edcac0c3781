"""Instructions per lifecycle mutation against the floor's, counted by callgrind.

    python -m bench.instructions [--exams 4] [--database-url URL] [--keep DIR]

Runs itself again under `valgrind --tool=callgrind`: warms up (two exams walked and floored),
walks `--exams` exams through bench.lifecycle's 21 mutations one at a time, then sends the
floor (bench/_mutation_floor.py) as many mutations over the same exams. Callgrind dumps its
counts at each phase's end (`--dump-before` a libc call made only there), so each phase's
instructions are counted alone, every thread of the process included. Instruction counts do not
move with the machine's load, as wall-clock and even CPU time do on a shared machine; time
waiting for PostgreSQL is not counted, nor the server's own work. Last line:
{"radflow_per_mutation": .., "floor_per_mutation": .., "ratio": .., "backend": ..}, ratio =
the floor's instructions per mutation / radflow's (the CPU-bound ratio of bench.lifecycle).
`--keep DIR` keeps the callgrind files (callgrind_annotate reads them).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from api.app import freeze_startup_heap
from api.relay import decode_id
from bench import lifecycle
from bench._asgi import AsgiClient
from domain.tables import EXAMS

# The libc function whose entry makes callgrind dump (and zero) its counts: nothing on the
# walk's path calls it, the driver calls it once at the end of each phase.
MARK = "getppid"
WARM_UP = 2


def end_phase() -> None:
    os.getppid()


async def phases(url: str, exams: int) -> None:
    """Warm up, then the walk, then the floor: each ends with a dump."""
    app, db = await lifecycle.prepare(url, exams + WARM_UP)
    freeze_startup_heap()
    slots = lifecycle.slots_for(exams + WARM_UP)
    client = AsgiClient(app)

    async def versions() -> dict[int, int]:
        statement = sa.select(EXAMS.c.id, EXAMS.c.version)
        return await db.read(lambda session: dict(session.execute(statement).all()))

    async def floor(exam_ids: list[str]) -> None:
        seen = await versions()
        for exam_id in exam_ids:
            version = seen[decode_id(exam_id, "Exam", field="exam_id")]
            await lifecycle.drive_floor(client, exam_id, version)

    warm = [await lifecycle.drive_exam(client, n, slots[n]) for n in range(WARM_UP)]
    await floor(warm)
    end_phase()
    walked = [
        await lifecycle.drive_exam(client, n, slots[n]) for n in range(WARM_UP, exams + WARM_UP)
    ]
    end_phase()
    # The versions are read before the floor's phase starts (as bench.lifecycle reads them
    # untimed): the floor's count is its mutations alone.
    seen = await versions()
    end_phase()
    for exam_id in walked:
        await lifecycle.drive_floor(
            client, exam_id, seen[decode_id(exam_id, "Exam", field="exam_id")]
        )
    end_phase()
    await db.dispose()


def _totals(out: Path) -> list[int]:
    """The instruction count of each dump, in the order they were made."""
    dumps = sorted(out.parent.glob(out.name + ".*"), key=lambda p: int(p.suffix[1:]))
    pattern = re.compile(r"^totals:\s+(\d+)", re.MULTILINE)
    counts = []
    for dump in dumps:
        found = pattern.search(dump.read_text())
        counts.append(int(found.group(1)) if found else 0)
    return counts


def measure(url: str, exams: int, keep: Path | None) -> dict[str, Any]:
    folder = keep or Path(tempfile.mkdtemp())
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / "callgrind.out"
    command = [
        "valgrind",
        "--tool=callgrind",
        f"--dump-before={MARK}",
        f"--callgrind-out-file={out}",
        sys.executable,
        "-m",
        "bench.instructions",
        "--inner",
        "--exams",
        str(exams),
        "--database-url",
        url,
    ]
    run = subprocess.run(command, stderr=subprocess.PIPE, text=True)
    if run.returncode != 0:
        raise RuntimeError(f"the run under callgrind failed: {run.stderr[-3000:]}")
    _, walk, _, floor = _totals(out)[:4]
    mutations = exams * lifecycle.MUTATIONS_PER_EXAM
    radflow_per, floor_per = walk / mutations, floor / mutations
    return {
        "radflow_per_mutation": round(radflow_per),
        "floor_per_mutation": round(floor_per),
        "ratio": round(floor_per / radflow_per, 3),
        "backend": sa.make_url(url).get_backend_name(),
        "exams": exams,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exams", type=int, default=4)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--keep", type=Path, default=None)
    parser.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    url = args.database_url or f"sqlite:///{Path(tempfile.mkdtemp()) / 'instructions.db'}"
    if args.inner:
        asyncio.run(phases(url, args.exams))
        return
    result = measure(url, args.exams, args.keep)
    print(
        f"{result['exams']} exams x {lifecycle.MUTATIONS_PER_EXAM} mutations on "
        f"{result['backend']}: radflow {result['radflow_per_mutation']:,} instructions a "
        f"mutation, the floor {result['floor_per_mutation']:,}"
    )
    keys = ("radflow_per_mutation", "floor_per_mutation", "ratio", "backend")
    print(json.dumps({k: result[k] for k in keys}))


if __name__ == "__main__":
    main()
