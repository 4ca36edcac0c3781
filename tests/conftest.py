"""Shared fixtures: a database per backend, a running API over real HTTP, a test clock."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
import uvicorn
from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel import SQLModel

import domain.models  # noqa: F401  (registers the tables)
from api.app import create_app
from api.auth import mint
from application.settings import Settings
from domain.db import Database, normalise_url
from domain.enums import Role
from domain.models import AuditEvent

REQUIRE_SERVICES = os.environ.get("RADFLOW_REQUIRE_SERVICES") == "1"
POSTGRES_URL = os.environ.get("TEST_DATABASE_URL")


def need_service(name: str, variable: str) -> None:
    """Skip (or, in CI, fail) when a service the test needs is not configured."""
    message = f"{name} not configured: set {variable} to run this test"
    if REQUIRE_SERVICES:
        pytest.fail(message + " (RADFLOW_REQUIRE_SERVICES=1 forbids skipping)")
    pytest.skip(message)


class Clock:
    """A settable clock for commands: tests move time instead of sleeping."""

    def __init__(self) -> None:
        self.now = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)  # a Monday morning

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


@pytest.fixture
def clock() -> Clock:
    return Clock()


# Empties every PostgreSQL table (children first) and restarts every sequence, as
# `TRUNCATE ... RESTART IDENTITY` would, in one statement: TRUNCATE gives every table and index
# new files, which cost a second or more per test on a busy machine; deleting the few rows a
# test wrote costs milliseconds. The audit trail refuses DELETE (a trigger): truncated, when
# a test wrote to it.
_AUDIT = str(AuditEvent.__tablename__)
EMPTY_POSTGRES = sa.text(
    "DO $$ DECLARE s record; BEGIN "
    + " ".join(
        f"DELETE FROM {t.name};"
        for t in reversed(SQLModel.metadata.sorted_tables)
        if t.name != _AUDIT
    )
    + f" IF EXISTS (SELECT FROM {_AUDIT}) THEN TRUNCATE {_AUDIT}; END IF;"
    + " FOR s IN SELECT schemaname, sequencename, start_value FROM pg_sequences"
    " WHERE schemaname = current_schema() LOOP"
    " PERFORM setval(format('%I.%I', s.schemaname, s.sequencename), s.start_value, false);"
    " END LOOP; END $$"
)


@pytest.fixture(scope="session")
def postgres_schema() -> str:
    """A PostgreSQL database with the current schema, created once per run."""
    if not POSTGRES_URL:
        need_service("PostgreSQL", "TEST_DATABASE_URL")
    assert POSTGRES_URL is not None

    async def create() -> None:
        engine = create_async_engine(normalise_url(POSTGRES_URL))
        async with engine.begin() as connection:
            await connection.execute(sa.text("DROP SCHEMA IF EXISTS public CASCADE"))
            await connection.execute(sa.text("CREATE SCHEMA public"))
            await connection.run_sync(SQLModel.metadata.create_all)
        await engine.dispose()

    # Requested from inside async fixtures, so run the set-up on a thread with its own loop.
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, create()).result()
    return POSTGRES_URL


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty SQLite database with the current schema, created once per run: each test's
    database is a copy (creating every table and index per test cost more than the copy)."""
    path = tmp_path_factory.mktemp("sqlite-template") / "radflow.db"
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA journal_mode=WAL")  # as `Database` opens it
    SQLModel.metadata.create_all(engine)
    engine.dispose()  # the last connection to close checkpoints the WAL into the file
    assert not path.with_name(path.name + "-wal").exists()
    return path


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def db(
    backend: str, clock: Clock, tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[Database]:
    """An empty database of the backend under test, with the current schema."""
    if backend == "sqlite":
        path = tmp_path / "radflow.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        database = Database(f"sqlite:///{path}", clock=clock)
    else:
        url = request.getfixturevalue("postgres_schema")
        database = Database(url, clock=clock)
        assert database.async_engine is not None
        async with database.async_engine.begin() as connection:
            await connection.execute(EMPTY_POSTGRES)
    yield database
    await database.dispose()


def token_for(
    subject: str, role: str, *, sites: list[str] | None = None, phi: bool | None = None
) -> str:
    """A development bearer token for a test caller (a technologist works at both demo sites
    unless `sites` says otherwise)."""
    if sites is None and role == Role.TECHNOLOGIST.value:
        sites = ["MAIN", "NORTH"]
    return mint(role=Role(role), subject=subject, settings=Settings(), sites=sites, phi=phi)


ADMIN = ("admin", "admin")  # the default caller of test requests


class Api:
    """A running radflow over real HTTP on loopback, with GraphQL helpers."""

    def __init__(self, client: httpx.AsyncClient, db: Database) -> None:
        self.client = client
        self.db = db

    async def graphql(
        self,
        query: str,
        variables: dict[str, object] | None = None,
        *,
        actor: tuple[str, str] | None = ADMIN,
    ) -> dict[str, object]:
        """Post a document as `actor` (default: an admin; None: anonymous)."""
        headers = {}
        if actor:
            headers = {"Authorization": f"Bearer {token_for(*actor)}"}
        response = await self.client.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )
        assert response.status_code in (200, 400), response.text
        return response.json()  # type: ignore[no-any-return]

    async def data(
        self,
        query: str,
        variables: dict[str, object] | None = None,
        *,
        actor: tuple[str, str] | None = ADMIN,
    ) -> dict[str, object]:
        body = await self.graphql(query, variables, actor=actor)
        assert "errors" not in body, body
        return body["data"]  # type: ignore[return-value]


@asynccontextmanager
async def on_loopback(app: Any) -> AsyncIterator[int]:
    """`app` served by uvicorn on a free loopback port (yielded), in this test's event loop."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = int(sock.getsockname()[1])
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:  # noqa: ASYNC110  (uvicorn offers no event for this)
        await asyncio.sleep(0.005)
    try:
        yield port
    finally:
        server.should_exit = True
        await task
        sock.close()


@asynccontextmanager
async def serve(db: Database, *, balancer: bool) -> AsyncIterator[Api]:
    """The app served by uvicorn on a free loopback port, in this test's event loop."""
    # The clock stays off: tests move their own clock and run timed work where they mean to.
    settings = Settings(
        database_url=str(db.url),
        RADFLOW_FHIR_SUBSCRIPTION_ENDPOINTS="http://127.0.0.1",  # the tests' own receivers
        RADFLOW_BALANCER=balancer,
        RADFLOW_CLOCK=False,
    )
    async with (
        on_loopback(create_app(settings, db=db)) as port,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client,
    ):
        yield Api(client, db)


@pytest.fixture
async def api(db: Database) -> AsyncIterator[Api]:
    """The API over real HTTP, without the balancer running in the background."""
    async with serve(db, balancer=False) as running:
        yield running


@pytest.fixture
async def live_api(db: Database) -> AsyncIterator[Api]:
    """The API over real HTTP with the balancer re-planning on events, as in production."""
    async with serve(db, balancer=True) as running:
        yield running
