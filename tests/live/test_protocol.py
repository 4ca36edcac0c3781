"""graphql-transport-ws over a real socket: every rule of the protocol, and its limits."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from domain.db import Database
from tests.conftest import token_for
from tests.live.conftest import WAIT, Server, serve_live, subscriber

SUBSCRIPTION = "subscription { balancerRan { eventId } }"


@pytest.fixture
def backend() -> str:
    return "sqlite"  # the protocol does not depend on the database


@pytest.fixture
async def strict(db: Database) -> AsyncIterator[Server]:
    """Tokens required, a short init timeout, two subscriptions per connection."""
    async with serve_live(
        db,
        RADFLOW_WS_ALLOW_ANONYMOUS=False,
        RADFLOW_WS_INIT_TIMEOUT=0.3,
        RADFLOW_WS_MAX_SUBSCRIPTIONS=2,
    ) as running:
        yield running


@pytest.mark.parametrize(
    "frame",
    [
        "not json",
        "[1, 2]",
        '{"type": 7}',
        '{"type": "nope"}',
        '{"type": "subscribe", "id": 1, "payload": {"query": "x"}}',
    ],
)
async def test_an_invalid_message_closes_4400(server: Server, frame: str) -> None:
    async with subscriber(server) as client:
        await client.ws.send(frame)
        code, _ = await client.closed_with()
    assert code == 4400


async def test_a_subscribe_payload_without_a_query_closes_4400(server: Server) -> None:
    async with subscriber(server) as client:
        await client.send({"id": "1", "type": "subscribe", "payload": {"variables": {}}})
        assert (await client.closed_with())[0] == 4400


async def test_subscribe_before_the_ack_closes_4401(server: Server) -> None:
    async with subscriber(server, init=False) as client:
        await client.subscribe("1", SUBSCRIPTION)
        assert (await client.closed_with())[0] == 4401


async def test_a_bad_token_is_rejected_4403(server: Server) -> None:
    async with subscriber(server, init=False) as client:
        await client.send(
            {"type": "connection_init", "payload": {"authorization": "Bearer not-a-jwt"}}
        )
        assert (await client.closed_with())[0] == 4403


async def test_no_token_is_rejected_4403_when_anonymous_is_not_allowed(strict: Server) -> None:
    async with subscriber(strict, init=False) as client:
        await client.send({"type": "connection_init", "payload": {}})
        assert (await client.closed_with())[0] == 4403


async def test_a_valid_token_is_acknowledged(strict: Server) -> None:
    token = token_for("sup.ortiz", "supervisor")
    async with subscriber(strict, payload={"authorization": f"Bearer {token}"}) as client:
        await client.send({"type": "ping"})
        assert await client.receive() == {"type": "pong"}


async def test_no_init_in_time_closes_4408(strict: Server) -> None:
    async with subscriber(strict, init=False) as client:
        assert (await client.closed_with())[0] == 4408


async def test_a_duplicate_operation_id_closes_4409(server: Server) -> None:
    async with subscriber(server) as client:
        await client.subscribe("same", SUBSCRIPTION)
        await client.subscribe("same", SUBSCRIPTION)
        assert (await client.closed_with())[0] == 4409


async def test_a_second_init_closes_4429(server: Server) -> None:
    async with subscriber(server) as client:
        await client.send({"type": "connection_init", "payload": {}})
        assert (await client.closed_with())[0] == 4429


async def test_ping_is_answered_with_pong_and_a_pong_needs_no_answer(server: Server) -> None:
    async with subscriber(server) as client:
        await client.send({"type": "pong"})
        await client.send({"type": "ping", "payload": {"n": 1}})
        assert await client.receive() == {"type": "pong"}


async def test_an_invalid_operation_gets_error_and_no_complete(server: Server) -> None:
    async with subscriber(server) as client:
        await client.subscribe("bad", "subscription { noSuchField }")
        error = await client.receive()
        assert error["type"] == "error" and error["id"] == "bad"
        assert "noSuchField" in json.dumps(error["payload"])
        # Nothing else may follow for that id: the next message answers this ping.
        await client.send({"type": "ping"})
        assert await client.receive() == {"type": "pong"}


async def test_a_resolver_input_error_is_an_error_not_a_complete(server: Server) -> None:
    async with subscriber(server) as client:
        await client.subscribe(
            "x", 'subscription { worklistChanged(radiologistId: "nope") { eventId } }'
        )
        first = await client.receive()
        assert first["id"] == "x" and first["type"] == "error", first
        assert "INVALID_ID" in json.dumps(first["payload"]) or "Radiologist" in json.dumps(first)
        await client.send({"type": "ping"})
        assert await client.receive() == {"type": "pong"}


async def test_the_subscription_cap_answers_error_for_the_extra_one(strict: Server) -> None:
    token = token_for("sup.ortiz", "supervisor")
    async with subscriber(strict, payload={"authorization": f"Bearer {token}"}) as client:
        await client.subscribe("1", SUBSCRIPTION)
        await client.subscribe("2", "subscription { ruleSetActivated { eventId } }")
        await client.subscribe("3", SUBSCRIPTION)
        error = await client.receive()
        assert error["type"] == "error" and error["id"] == "3"
        assert "limit" in json.dumps(error["payload"])


async def test_complete_stops_a_subscription_and_frees_its_id(server: Server) -> None:
    async with subscriber(server) as client:
        await client.subscribe("1", SUBSCRIPTION)
        await client.send({"id": "1", "type": "complete"})
        await client.subscribe("1", SUBSCRIPTION)  # no 4409: the id is free again
        await client.send({"type": "ping"})
        assert await client.receive() == {"type": "pong"}


async def test_the_legacy_graphql_ws_subprotocol_is_refused(server: Server) -> None:
    try:
        async with connect(
            server.ws_url,
            subprotocols=["graphql-ws"],  # type: ignore[list-item]
            open_timeout=WAIT,
        ) as ws:
            await asyncio.wait_for(ws.recv(), WAIT)
    except InvalidStatus:
        return  # refused at the handshake
    except Exception:
        assert ws.close_code == 4406
        assert ws.subprotocol is None
        return
    pytest.fail("the legacy protocol was served")
