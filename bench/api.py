"""GraphQL read throughput against the leanest raw endpoint, same process, same data.

    python -m bench.api [--exams 20000] [--seconds 5] [--connections 8] [--database-url URL]

One uvicorn process serves both `/graphql` and `/raw` (one SQL with joins, JSON out); this
process drives each with the same keep-alive load generator. Both verify the caller's token
and write the audit record of the page they read, as every endpoint serving patient data
must; `/raw_unaudited` (the same without the record) and the GraphQL floor (`{ __typename }`)
are measured too, to show where the time goes. Last line:
{"graphql_rps": .., "raw_rps": .., "ratio": .., "raw_unaudited_rps": .., "graphql_floor_rps": ..}
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from api.auth import mint
from application.settings import get_settings
from bench._load import post_request, run_load
from bench._net import free_port
from domain.enums import Role

QUERY = """query Page($first: Int!) {
  exams(first: $first) {
    edges { node {
      id accessionNumber status priority orderedAt
      patient { mrn givenName familyName }
      procedure { code name }
      site { code }
      report { status impression }
    } }
  }
}"""

RAW_SQL = """
SELECT e.id, e.accession_number, e.status, e.priority, e.ordered_at,
       p.mrn, p.given_name, p.family_name, pr.code, pr.name, s.code, r.status, r.impression
FROM exams e
JOIN patients p ON p.id = e.patient_id
JOIN procedures pr ON pr.id = e.procedure_id
JOIN sites s ON s.id = e.site_id
LEFT JOIN reports r ON r.exam_id = e.id
ORDER BY e.ordered_at DESC, e.id DESC
LIMIT 50
"""


def bench_app() -> Any:
    """The radflow app plus the raw endpoint (run inside the server process)."""
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    from api.app import create_app, freeze_startup_heap
    from api.auth import authenticate
    from api.relay import to_global_id
    from domain.audit import AuditAction, Trail
    from domain.lifecycle import Actor

    app = create_app()
    db = app.state.db

    def fetch(session: Any, actor: Actor) -> tuple[bytes, Trail]:
        rows = session.connection().exec_driver_sql(RAW_SQL).all()
        trail = Trail(
            actor=actor, client_address="127.0.0.1", operation="raw page", action=AuditAction.READ
        )
        for r in rows:
            trail.note_exam(r[0], mrn=r[5])
        edges = [
            {
                "node": {
                    "id": to_global_id("Exam", r[0]),
                    "accessionNumber": r[1],
                    "status": r[2],
                    "priority": r[3],
                    "orderedAt": _iso(r[4]),
                    "patient": {"mrn": r[5], "givenName": r[6], "familyName": r[7]},
                    "procedure": {"code": r[8], "name": r[9]},
                    "site": {"code": r[10]},
                    "report": None if r[11] is None else {"status": r[11], "impression": r[12]},
                }
            }
            for r in rows
        ]
        return json.dumps({"data": {"exams": {"edges": edges}}}).encode(), trail

    settings = app.state.settings

    def endpoint(audited: bool) -> Any:
        async def raw(request: Request) -> Response:
            # Any real endpoint serving patient data checks who is calling (the same bearer
            # token as GraphQL's) and leaves the audit record of what it read (the same
            # INSERT); `/raw_unaudited` skips the record, to show what the audit costs.
            actor = authenticate(request.headers.get("authorization"), settings)
            body, trail = await db.read(lambda session: fetch(session, actor), bounded=True)
            if audited:
                await db.write_audit(trail)
            return Response(body, media_type="application/json")

        return raw

    app.router.routes.append(Route("/raw", endpoint(audited=True), methods=["POST"]))
    app.router.routes.append(Route("/raw_unaudited", endpoint(audited=False), methods=["POST"]))
    freeze_startup_heap()  # as `radflow serve` does
    return app


def _iso(value: Any) -> str:
    if isinstance(value, str):  # SQLite returns the stored UTC text
        return value.replace(" ", "T") + "+00:00"
    iso: str = value.isoformat()
    return iso


async def _prepare(url: str, exams: int) -> None:
    from bench._data import create_schema, department, reset_postgres
    from domain.db import Database

    db = Database(url)
    if db.is_sqlite:
        create_schema(db)
    else:
        await reset_postgres(db)
    await department(db, exams)
    await db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exams", type=int, default=20_000)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()

    workdir = tempfile.mkdtemp(prefix="radflow-bench-")
    url = args.database_url or f"sqlite:///{Path(workdir) / 'bench.db'}"
    asyncio.run(_prepare(url, args.exams))
    port = free_port()
    # The load generator is one caller far busier than any person: the rate limiter runs
    # (its cost is measured) but never binds.
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "RADFLOW_BALANCER": "false",
        "RADFLOW_RATE_LIMIT": "1000000/second",
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "bench.api:bench_app",
            "--factory",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        env=env,
    )
    try:
        _wait_for(port)
        results = asyncio.run(_measure(port, args.seconds, args.connections))
    finally:
        server.terminate()
        server.wait(timeout=10)
    graphql, raw = results["graphql"], results["raw"]
    print(
        f"exams in database: {args.exams}; {args.connections} connections, "
        f"{args.seconds:.0f} s per endpoint; backend {url.split(':')[0]}"
    )
    for name, result in results.items():
        print(f"{name:14s} {result.rps:8.1f} req/s  ({result.requests} ok, {result.errors} errors)")
    print(
        json.dumps(
            {
                "graphql_rps": round(graphql.rps, 1),
                "raw_rps": round(raw.rps, 1),
                "ratio": round(graphql.rps / raw.rps, 3) if raw.rps else None,
                "raw_unaudited_rps": round(results["raw_unaudited"].rps, 1),
                "graphql_floor_rps": round(results["graphql_floor"].rps, 1),
            }
        )
    )


def _wait_for(port: int) -> None:
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("the benchmark server did not start")


async def _measure(port: int, seconds: float, connections: int) -> dict[str, Any]:
    body = json.dumps({"query": QUERY, "variables": {"first": 50}}).encode()
    floor = json.dumps({"query": "{ __typename }"}).encode()
    # A supervisor (sees every exam); every request carries and verifies the token.
    auth = {
        "Authorization": "Bearer "
        + mint(role=Role.SUPERVISOR, subject="sup.ortiz", settings=get_settings())
    }
    requests = {
        "graphql": post_request("127.0.0.1", port, "/graphql", body, auth),
        "raw": post_request("127.0.0.1", port, "/raw", b"{}", auth),
        "raw_unaudited": post_request("127.0.0.1", port, "/raw_unaudited", b"{}", auth),
        # The same GraphQL stack answering a query that reads nothing: its ceiling.
        "graphql_floor": post_request("127.0.0.1", port, "/graphql", floor, auth),
    }
    results = {}
    for request in requests.values():  # warm up both, then measure each in turn
        await run_load("127.0.0.1", port, request, seconds=1.0, connections=connections)
    for name, request in requests.items():
        results[name] = await run_load(
            "127.0.0.1", port, request, seconds=seconds, connections=connections
        )
    return results


if __name__ == "__main__":
    main()
