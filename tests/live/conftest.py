"""Live-update fixtures: the app on a real loopback port, and a graphql-transport-ws client."""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect

from api.app import create_app
from application.settings import Settings
from domain.db import Database
from tests.conftest import need_service, on_loopback, token_for

REDIS_URL = os.environ.get("TEST_REDIS_URL")
PROTOCOL = "graphql-transport-ws"
WAIT = 30.0  # generous: how long a test waits for something that must happen


def redis_url() -> str:
    """The test Redis, or skip (fail under RADFLOW_REQUIRE_SERVICES=1)."""
    if not REDIS_URL:
        need_service("Redis", "TEST_REDIS_URL")
    assert REDIS_URL is not None
    return REDIS_URL


def unique_prefix() -> str:
    """A stream name prefix no other test (or helper sharing this Redis) uses."""
    return f"radflow-test-{uuid.uuid4().hex[:12]}"


class Server:
    """A running radflow: its base URLs and an HTTP client."""

    def __init__(self, port: int, client: httpx.AsyncClient, app: Any) -> None:
        self.port = port
        self.client = client
        self.app = app
        self.ws_url = f"ws://127.0.0.1:{port}/graphql"

    async def data(
        self, query: str, variables: dict[str, object] | None = None, *, token: str | None = None
    ) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = await self.client.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )
        body = response.json()
        assert "errors" not in body, body
        return body["data"]  # type: ignore[no-any-return]


@asynccontextmanager
async def serve_live(db: Database, **settings: Any) -> AsyncIterator[Server]:
    """The app served by uvicorn on a free loopback port, in this test's event loop."""
    config = {
        "database_url": str(db.url),
        "RADFLOW_BALANCER": False,
        "RADFLOW_OUTBOX_POLL": 0.2,
        **settings,
    }
    app = create_app(Settings(**config), db=db)
    async with (
        on_loopback(app) as port,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client,
    ):
        yield Server(port, client, app)


class Subscriber:
    """A graphql-transport-ws client over a real WebSocket."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(message))

    async def receive(self) -> dict[str, Any]:
        return json.loads(await asyncio.wait_for(self.ws.recv(), WAIT))  # type: ignore[no-any-return]

    async def init(self, payload: dict[str, Any] | None = None) -> None:
        """Open the session (default: as an admin, who may use every subscription)."""
        if payload is None:
            payload = {"authorization": f"Bearer {token_for('admin', 'admin')}"}
        await self.send({"type": "connection_init", "payload": payload})
        assert await self.receive() == {"type": "connection_ack"}

    async def subscribe(self, id: str, query: str, variables: dict[str, Any] | None = None) -> None:
        await self.send(
            {
                "id": id,
                "type": "subscribe",
                "payload": {"query": query, "variables": variables or {}},
            }
        )

    async def next(self, id: str) -> dict[str, Any]:
        """The data of the next `next` message for operation `id`."""
        message = await self.receive()
        assert message.get("type") == "next" and message.get("id") == id, message
        assert "errors" not in message["payload"], message
        return message["payload"]["data"]  # type: ignore[no-any-return]

    async def closed_with(self) -> tuple[int, str]:
        """Wait for the server to close; its code and reason."""
        try:
            while True:
                await asyncio.wait_for(self.ws.recv(), WAIT)
        except Exception:
            pass
        assert self.ws.close_code is not None
        return self.ws.close_code, self.ws.close_reason or ""


@asynccontextmanager
async def subscriber(
    server: Server,
    *,
    init: bool = True,
    payload: dict[str, Any] | None = None,
    subprotocol: str = PROTOCOL,
) -> AsyncIterator[Subscriber]:
    async with connect(
        server.ws_url,
        subprotocols=[subprotocol],  # type: ignore[list-item]
        open_timeout=WAIT,
    ) as ws:
        client = Subscriber(ws)
        if init:
            await client.init(payload)
        yield client


@pytest.fixture
async def server(db: Database) -> AsyncIterator[Server]:
    """radflow with the in-process broker."""
    async with serve_live(db) as running:
        yield running
