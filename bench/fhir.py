"""FHIR reads over real HTTP: python -m bench.fhir --exams 2000 --requests 400.

A department of `exams` bulk-loaded exams served by uvicorn on loopback, called with an
admin token: first every ServiceRequest paged through with `_count=100` (following `next` links),
then `requests` reads of single resources (Patient, ServiceRequest, DiagnosticReport, in turn)
from eight concurrent clients. Every request writes its audit record, as in production. Prints,
as the LAST line, {"exams", "pages", "page_ms_p50", "page_ms_p99", "reads_per_s",
"read_ms_p99", "backend"}.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path

import httpx
import uvicorn

from api.app import create_app
from api.auth import mint
from application.settings import Settings
from bench._data import create_schema, department, reset_postgres
from domain.db import Database
from domain.enums import Role


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98] if len(values) > 1 else values[0]


async def main(exams: int, requests: int, database_url: str | None) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        url = database_url or f"sqlite:///{Path(tmp) / 'fhir.db'}"
        db = Database(url)
        if db.is_sqlite:
            create_schema(db)
        else:
            await reset_postgres(db)
        await department(db, exams, patients=500)
        settings = Settings(database_url=url, RADFLOW_BALANCER=False)
        token = mint(role=Role.ADMIN, subject="bench.fhir", settings=settings)
        server = uvicorn.Server(
            uvicorn.Config(create_app(settings, db=db), host="127.0.0.1", port=0, log_level="error")
        )
        task = asyncio.create_task(server.serve())
        while not server.started:  # noqa: ASYNC110  (uvicorn offers no event for this)
            await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}/fhir/", headers=headers, timeout=60
        ) as client:
            page_ms: list[float] = []
            following: str | None = "ServiceRequest?_count=100"
            while following:
                started = time.perf_counter()
                bundle = (await client.get(following)).raise_for_status().json()
                page_ms.append((time.perf_counter() - started) * 1000)
                following = next(
                    (x["url"] for x in bundle["link"] if x["relation"] == "next"), None
                )
            paths = ["Patient/{}", "ServiceRequest/{}", "DiagnosticReport/{}"]
            read_ms: list[float] = []

            async def reader(worker: int) -> None:
                for n in range(worker, requests, 8):
                    path = paths[n % 3].format(n % min(exams, 500) + 1)
                    started = time.perf_counter()
                    response = await client.get(path)
                    assert response.status_code in (200, 404), response.text
                    read_ms.append((time.perf_counter() - started) * 1000)

            started = time.perf_counter()
            await asyncio.gather(*(reader(w) for w in range(8)))
            elapsed = time.perf_counter() - started
        server.should_exit = True
        await task
        await db.dispose()
    return {
        "exams": exams,
        "pages": len(page_ms),
        "page_ms_p50": round(statistics.median(page_ms), 1),
        "page_ms_p99": round(p99(page_ms), 1),
        "reads_per_s": round(requests / elapsed, 1),
        "read_ms_p99": round(p99(read_ms), 1),
        "backend": "sqlite" if database_url is None else "postgresql",
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--exams", type=int, default=2000)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main(args.exams, args.requests, args.database_url))))
