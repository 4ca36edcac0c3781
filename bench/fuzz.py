"""Fuzz the running API with schemathesis in GraphQL mode: positive, negative and stateful.

    python -m bench.fuzz [--operations 2000] [--database-url URL] [--seed 0]

Seeds a department into a fresh database, serves it with uvicorn on loopback (a subprocess
whose log is kept), and sends operations generated from `schema.graphql`, taking turns as a
caller of every role (admin, supervisor, scheduler, integration without PHI, referrer, patient,
technologist, radiologist) and an anonymous one. A failure is a 5xx; a 200 that is not a GraphQL
JSON answer; an error masked as internal (a bug the masking hid; its logged details are
reported); or an error message that reads like a leaked exception. Last line:
{"operations": .., "server_errors": .., "failures": [..]}
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench._net import free_port

SCHEMA = Path(__file__).resolve().parent.parent / "schema.graphql"
# Text no deliberate error message contains: exception names, tracebacks, driver and SQL text.
LEAK = re.compile(
    r"Traceback|File \"|\b\w+(?:Error|Exception)\b|sqlalchemy|asyncpg|"
    r"sqlite3|\[SQL|object has no attribute|NoneType|not subscriptable|"
    r"unexpected keyword|positional argument"
)
MAX_FAILURES = 50


@dataclass
class Report:
    """What a run sent and what went wrong."""

    operations: int = 0
    server_errors: int = 0
    failures: list[dict[str, Any]] = field(default_factory=list)
    # How the answers went, per kind of operation: data, errors only, or refused by HTTP status.
    outcomes: dict[str, int] = field(default_factory=dict)
    _seen: set[tuple[str, str]] = field(default_factory=set)

    def fail(self, label: str, problem: str, body: object) -> None:
        key = (label, problem[:80])
        if key in self._seen or len(self.failures) >= MAX_FAILURES:
            return
        self._seen.add(key)
        self.failures.append(
            {"operation": label, "problem": problem, "request": json.dumps(body)[:600]}
        )

    def as_json(self) -> str:
        return json.dumps(
            {
                "operations": self.operations,
                "server_errors": self.server_errors,
                "failures": self.failures,
            }
        )


def check(report: Report, label: str, body: object, status: int, content: bytes) -> None:
    """Record what is wrong with one answer, if anything."""
    report.operations += 1
    kind = "stateful" if label.startswith("stateful") else label.split(".")[0].lower()
    outcome = (
        f"{kind} HTTP {status}"
        if status != 200
        else kind
        + (" errors" if b'"data":null' in content or b'"data"' not in content else " data")
    )
    report.outcomes[outcome] = report.outcomes.get(outcome, 0) + 1
    if status >= 500:
        report.server_errors += 1
        report.fail(label, f"HTTP {status}: {content[:300]!r}", body)
        return
    if status != 200:
        return  # a refused request (400, 413, 415, 429): what a hostile body should get
    try:
        answer = json.loads(content)
    except ValueError:
        report.fail(label, f"a 200 that is not JSON: {content[:300]!r}", body)
        return
    if not isinstance(answer, dict) or not ({"data", "errors"} & answer.keys()):
        report.fail(label, f"not a GraphQL answer: {content[:300]!r}", body)
        return
    for error in answer.get("errors") or []:
        message = str(error.get("message", ""))
        code = (error.get("extensions") or {}).get("code")
        if code == "INTERNAL_SERVER_ERROR":
            report.fail(
                label,
                f"internal error (masked), correlation id "
                f"{error['extensions'].get('correlationId')}",
                body,
            )
        elif LEAK.search(message):
            report.fail(label, f"leaked detail: {message[:300]}", body)


def fuzz(
    base_url: str,
    *,
    operations: int,
    tokens: list[str | None],
    seed: int = 0,
    stateful_share: float = 0.2,
) -> Report:
    """Send about `operations` generated operations to a running API; the report of them."""
    import httpx
    from hypothesis import HealthCheck, Phase, given, settings
    from schemathesis import GenerationMode
    from schemathesis.core.result import Err
    from schemathesis.graphql import from_path

    schema = from_path(str(SCHEMA))
    targets = []
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            raise result.err()
        targets.append(result.ok())
    targets = [op for op in targets if op.label.startswith(("Query.", "Mutation."))]
    report = Report()
    headers = [{"Authorization": f"Bearer {t}"} if t else {} for t in tokens]
    budget = operations - int(operations * stateful_share)
    modes = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    per_case = max(1, budget // (len(targets) * len(modes)))
    quiet = {
        "database": None,
        "deadline": None,
        "derandomize": seed == 0,
        "phases": [Phase.generate],
        "suppress_health_check": list(HealthCheck),
    }

    with httpx.Client(base_url=base_url, timeout=60) as client:

        def send(label: str, body: dict[str, Any]) -> None:
            response = client.post(
                "/graphql", json=body, headers=headers[report.operations % len(headers)]
            )
            check(report, label, body, response.status_code, response.content)

        while report.operations < budget:
            before = report.operations
            for op in targets:
                for mode in modes:

                    @given(case=op.as_strategy(generation_mode=mode))
                    @settings(max_examples=per_case, **quiet)  # type: ignore[arg-type]
                    def one(case: Any) -> None:
                        if report.operations < budget:
                            send(
                                case.operation.label,
                                case.as_transport_kwargs(base_url=base_url)["json"],
                            )

                    one()
            if report.operations == before:
                break  # every strategy is exhausted
            quiet["derandomize"] = False  # later rounds draw new examples

    _stateful(schema, base_url, headers, report, operations, quiet)
    return report


def _stateful(
    schema: Any,
    base_url: str,
    headers: list[dict[str, str]],
    report: Report,
    operations: int,
    quiet: dict[str, Any],
) -> None:
    """Scenarios chaining operations: ids that answers return feed later operations."""
    from hypothesis import settings
    from hypothesis.errors import FlakyStrategyDefinition

    machine = schema.as_state_machine()

    class Scenario(machine):  # type: ignore[misc,valid-type]
        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {
                "base_url": base_url + "/graphql",
                "headers": headers[report.operations % len(headers)],
            }

        def validate_response(self, response: Any, case: Any, *args: Any, **kwargs: Any) -> None:
            check(
                report,
                f"stateful {case.operation.label}",
                case.as_transport_kwargs(base_url=base_url)["json"],
                response.status_code,
                response.content,
            )

    # Scenarios depend on the server's answers, so they are never derandomised (a replayed
    # prefix would meet a different state and hypothesis would call the strategy flaky).
    options = {**quiet, "derandomize": False}
    while report.operations < operations:
        before = report.operations
        remaining = operations - report.operations
        # A bundle emptied by an earlier answer makes hypothesis call the strategy flaky: the
        # harness's problem, not the API's.
        with suppress(FlakyStrategyDefinition):
            Scenario.run(
                settings=settings(
                    max_examples=max(1, remaining // 8), stateful_step_count=10, **options
                )
            )
        if report.operations == before:
            break


async def prepare(url: str, *, exams: int = 60) -> None:
    """A fresh department: reference data and exams in every status."""
    from bench._data import create_schema, department, reset_postgres
    from domain.db import Database

    db = Database(url)
    try:
        if db.is_sqlite:
            create_schema(db)
        else:
            await reset_postgres(db)
        await department(db, exams, patients=60)
    finally:
        await db.dispose()


@contextmanager
def served(url: str, log: Path) -> Iterator[str]:
    """uvicorn serving radflow on `url` at a free loopback port; yields the base URL."""
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": url,
        # The fuzzer is one caller far busier than any person: the limiter runs, never binds.
        "RADFLOW_RATE_LIMIT": "1000000/second",
    }
    with log.open("w") as output:
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "api.app:create_app",
                "--factory",
                "--port",
                str(port),
                "--log-level",
                "warning",
                "--no-access-log",
            ],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.time() + 60
            while True:
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                        break
                except OSError:
                    if server.poll() is not None or time.time() > deadline:
                        raise RuntimeError("the API did not start:\n" + log.read_text()) from None
                    time.sleep(0.1)
            yield f"http://127.0.0.1:{port}"
        finally:
            server.terminate()
            server.wait(timeout=30)


def logged_internal_errors(log: Path) -> list[str]:
    """The server's own record of masked internal errors (one line each, with the id)."""
    return [
        line.strip()
        for line in log.read_text(errors="replace").splitlines()
        if line.startswith("internal error ")
    ]


def _callers() -> list[tuple[Any, str, list[str] | None, bool | None]]:
    from domain.enums import Role

    return [
        (Role.ADMIN, "admin.fuzz", None, None),
        (Role.SUPERVISOR, "sup.ortiz", None, None),
        (Role.SCHEDULER, "frontdesk", None, None),
        (Role.INTEGRATION, "ris.bridge", None, False),
        (Role.REFERRER, "REF01", None, None),
        (Role.PATIENT, "MRN000001", None, None),
        (Role.TECHNOLOGIST, "tech.lee", ["MAIN"], None),
        (Role.RADIOLOGIST, "RAD03", None, None),
    ]


def run(url: str, operations: int, *, seed: int = 0, workdir: Path) -> Report:
    """Prepare, serve, fuzz; failures include internal errors found in the server's log."""
    from api.auth import mint
    from application.settings import Settings

    asyncio.run(prepare(url))
    settings = Settings()
    tokens: list[str | None] = [
        mint(role=role, subject=subject, settings=settings, sites=sites, phi=phi)
        for role, subject, sites, phi in _callers()
    ]
    tokens.append(None)  # and an anonymous caller
    log = workdir / "server.log"
    with served(url, log) as base_url:
        report = fuzz(base_url, operations=operations, tokens=tokens, seed=seed)
    for line in logged_internal_errors(log):
        report.fail("server log", line[:400], None)
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--operations", type=int, default=2000)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--seed", type=int, default=0, help="0: the same examples every run")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="radflow-fuzz-"))
    url = args.database_url or f"sqlite:///{workdir / 'fuzz.db'}"
    started = time.perf_counter()
    report = run(url, args.operations, seed=args.seed, workdir=workdir)
    print(
        f"{report.operations} operations in {time.perf_counter() - started:.0f} s against "
        f"{url.split(':')[0]}; server log: {workdir / 'server.log'}"
    )
    print(json.dumps(dict(sorted(report.outcomes.items()))))
    for failure in report.failures:
        print(json.dumps(failure))
    print(report.as_json())


if __name__ == "__main__":
    main()
