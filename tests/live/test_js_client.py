"""The reference JavaScript client (npm `graphql-ws`, on this machine's Node.js) subscribes and
receives events."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from pathlib import Path

import pytest
import sqlalchemy as sa

from domain.db import Database
from domain.models import OutboxEvent
from tests import factories
from tests.conftest import token_for
from tests.live.conftest import WAIT, Server

JS = Path(__file__).resolve().parents[1] / "js"
QUERY = """subscription ($after: Int) {
  examStatusChanged(after: $after) { eventId type exam { accessionNumber } } }"""


@pytest.fixture
def backend() -> str:
    return "sqlite"


@pytest.fixture(scope="module")
def node() -> str:
    """Node.js with the client installed (`npm ci` from the lock file when needed)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("Node.js and npm are not installed")
    if not (JS / "node_modules" / "graphql-ws").exists():
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"],
            cwd=JS,
            check=True,
            capture_output=True,
            timeout=300,
        )
    return node


async def test_the_graphql_ws_client_receives_events(
    node: str, db: Database, server: Server
) -> None:
    await factories.reference(db)
    start = int(await db.read(lambda s: s.scalar(sa.select(sa.func.max(OutboxEvent.id)))))
    process = await asyncio.create_subprocess_exec(
        node,
        str(JS / "subscribe.mjs"),
        server.ws_url,
        "2",
        QUERY,
        json.dumps({"after": start}),
        token_for("sup.ortiz", "supervisor"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        connected = json.loads(await asyncio.wait_for(process.stdout.readline(), WAIT))
        assert connected == {"connected": True}
        exams = [await factories.order(db) for _ in range(2)]
        results = [
            json.loads(await asyncio.wait_for(process.stdout.readline(), WAIT)) for _ in exams
        ]
        _, stderr = await asyncio.wait_for(process.communicate(), WAIT)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0, stderr.decode()
    assert [r["data"]["examStatusChanged"]["exam"]["accessionNumber"] for r in results] == [
        e.accession_number for e in exams
    ]
    assert all(r["data"]["examStatusChanged"]["type"] == "EXAM_ORDERED" for r in results)
