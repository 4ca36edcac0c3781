"""The hardened API: document limits, batching, production mode, masking, body, rate, CSRF."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import httpx
import pytest

from api.hardening import Hardening
from api.limits import measure
from application.settings import Settings
from domain.db import Database
from tests.conftest import Api, serve, token_for
from tests.factories import count_rows, reference

ADMIN = ("admin.kim", "admin")
Serve = Callable[..., AbstractAsyncContextManager[Api]]


@pytest.fixture
def backend() -> str:
    return "sqlite"  # HTTP guards and validation rules do not depend on the database


@pytest.fixture
def running(db: Database, monkeypatch: pytest.MonkeyPatch) -> Serve:
    """Serve the app with some settings taken from the environment (`RADFLOW_...=value`)."""

    @asynccontextmanager
    async def start(**env: str) -> AsyncIterator[Api]:
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        if not await db.read(count_rows("sites")):
            await reference(db)
        async with serve(db, balancer=False) as api:
            yield api

    return start


def messages(body: dict[str, Any]) -> str:
    return " | ".join(e["message"] for e in body.get("errors", []))


FRAGMENT_ALIASES = "fragment F on Site { " + " ".join(f"a{n}: code" for n in range(20)) + " }"


@pytest.mark.parametrize(
    ("query", "mentions"),
    [
        (
            "{ exams(first: 1) { edges { node { "
            + "patient { exams { " * 6
            + "status"
            + " }" * 15
            + " }",
            "exceeds maximum operation depth of 12",
        ),
        # 20 aliases in a fragment spread twice: 40 > 30, though the text holds only 20.
        ("{ sites { ...F } s2: sites { ...F } } " + FRAGMENT_ALIASES, "41 aliases"),
        ("{ " + " ".join(f"f{n}: __typename" for n in range(21)) + " }", "21 top-level fields"),
        (" ".join(f"query Q{n} {{ __typename }}" for n in range(6)), "6 operations"),
        ("{ sites { " + "code " * 2100 + "} }", "more than 2000 tokens"),
        ("{ exams(first: 101) { edges { cursor } } }", "between 1 and 100"),
        ("{ exams(first: 0) { edges { cursor } } }", "between 1 and 100"),
        ("{ auditEvents(first: 101) { id } }", "between 1 and 100"),
    ],
)
async def test_documents_past_a_limit_are_refused_with_a_clear_error(
    running: Serve, query: str, mentions: str
) -> None:
    async with running() as api:
        body = await api.graphql(query, actor=ADMIN)
        assert body.get("data") is None, body
        assert mentions in messages(body), body


async def test_documents_within_the_limits_run(running: Serve) -> None:
    async with running() as api:
        once = "{ sites { ...F } } " + FRAGMENT_ALIASES
        assert len((await api.data(once))["sites"]) == 2  # type: ignore[arg-type]
        twenty = "{ " + " ".join(f"f{n}: __typename" for n in range(20)) + " }"
        assert len(await api.data(twenty)) == 20


def test_aliases_count_at_every_spread_in_linear_time() -> None:
    from graphql import parse

    # Each fragment spreads the next twice: 2**40 expansions if counted naively.
    chain = [f"fragment L{n} on Site {{ ...L{n + 1} ...L{n + 1} }}" for n in range(40)]
    document = parse("{ sites { ...L0 } } " + " ".join(chain) + " fragment L40 on Site { a: code }")
    assert measure(document) == (1, 2**40, 1)


async def test_a_batch_is_refused_with_400(running: Serve) -> None:
    async with running() as api:
        response = await api.client.post("/graphql", json=[{"query": "{ __typename }"}] * 2)
        assert response.status_code == 400
        assert "Batching is not enabled" in response.text


async def test_production_mode_hides_the_schema(running: Serve) -> None:
    introspect = "{ __schema { types { name } } }"
    typo = "{ site { code } }"
    async with running() as api:  # development: introspection, GraphiQL and hints
        assert (await api.data(introspect))["__schema"]
        assert "Did you mean" in messages(await api.graphql(typo))
        page = await api.client.get("/graphql", headers={"Accept": "text/html"})
        assert page.status_code == 200 and "graphiql" in page.text.lower()
    async with running(RADFLOW_PRODUCTION="true", RADFLOW_JWT_SECRET="s" * 40) as api:
        body = await api.graphql(introspect)
        assert body.get("data") is None and "introspection" in messages(body).lower()
        hidden = messages(await api.graphql(typo))
        assert "Cannot query field 'site'" in hidden and "Did you mean" not in hidden
        enum = messages(await api.graphql("{ procedures(modality: MRI) { code } }"))
        assert "MRI" in enum and "Did you mean" not in enum
        page = await api.client.get("/graphql", headers={"Accept": "text/html"})
        assert page.status_code != 200 and "graphiql" not in page.text.lower()
        assert (await api.data("{ __typename sites { code } }"))["__typename"] == "Query"


async def test_internal_errors_carry_a_correlation_id_found_in_the_log(
    running: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    async with running() as api:

        def broken(session: object) -> None:
            raise RuntimeError("secret detail: password=hunter2")

        original = api.db.read

        async def failing_read(fn: object, **_: object) -> object:
            return await original(broken)

        api.db.read = failing_read  # type: ignore[method-assign]
        try:
            with caplog.at_level(logging.ERROR, logger="radflow.errors"):
                body = await api.graphql("{ sites { code } }")
        finally:
            api.db.read = original  # type: ignore[method-assign]
    error = body["errors"][0]  # type: ignore[index]
    assert error["message"] == "Internal server error"
    assert "hunter2" not in json.dumps(body)
    correlation_id = error["extensions"]["correlationId"]
    assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR" and len(correlation_id) == 16
    logged = [r for r in caplog.records if correlation_id in r.getMessage()]
    assert logged and "hunter2" in logged[0].getMessage() and logged[0].exc_info


async def test_a_body_over_the_limit_gets_413_and_writes_nothing(running: Serve) -> None:
    async with running(RADFLOW_MAX_BODY_BYTES="2000") as api:
        before = await api.db.read(count_rows("exams"))
        big = {
            "query": "mutation($i: PlaceOrderInput!) { placeOrder(input: $i) { __typename } }",
            "variables": {"i": {"indication": "x" * 5000}},
        }
        declared = await api.client.post(
            "/graphql", json=big, headers={"Authorization": f"Bearer {token_for(*ADMIN)}"}
        )
        assert declared.status_code == 413
        assert "larger than 2000 bytes" in declared.json()["errors"][0]["message"]

        async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: sent chunked
            yield b'{"query": "{ __typename }", "variables": {"x": "'
            for _ in range(50):
                yield b"y" * 100
            yield b'"}}'

        streamed = await api.client.post(
            "/graphql", content=chunks(), headers={"Content-Type": "application/json"}
        )
        assert streamed.status_code == 413
        assert await api.db.read(count_rows("exams")) == before
        assert (await api.data("{ __typename }"))["__typename"] == "Query"


async def test_an_endless_body_is_cut_off_after_the_limit() -> None:
    """The guard stops reading once the limit is passed: a huge body is never buffered."""
    received = 0

    async def endless() -> dict[str, Any]:
        nonlocal received
        received += 1
        return {"type": "http.request", "body": b"x" * 1000, "more_body": True}

    async def app(scope: Any, receive: Any, send: Any) -> None:
        raise AssertionError("the app must not see an oversized body")

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    guard = Hardening(app, settings=Settings(RADFLOW_MAX_BODY_BYTES=10_000))
    await guard(
        {
            "type": "http",
            "path": "/graphql",
            "method": "POST",
            "headers": [(b"content-type", b"application/json")],
            "client": ("10.0.0.1", 1),
        },
        endless,
        send,
    )
    assert sent[0]["status"] == 413 and received == 11


async def test_each_caller_has_its_own_rate_limit(running: Serve) -> None:
    async with running(RADFLOW_RATE_LIMIT="5/minute") as api:

        def headers(subject: str) -> dict[str, str]:
            return {"Authorization": f"Bearer {token_for(subject, 'supervisor')}"}

        query = {"query": "{ __typename }"}
        for _ in range(5):
            assert (
                await api.client.post("/graphql", json=query, headers=headers("sup.a"))
            ).status_code == 200
        refused = await api.client.post("/graphql", json=query, headers=headers("sup.a"))
        assert refused.status_code == 429
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        assert refused.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
        # Another person, and anonymous callers (keyed by address), have their own budget.
        assert (
            await api.client.post("/graphql", json=query, headers=headers("sup.b"))
        ).status_code == 200
        assert (await api.client.post("/graphql", json=query)).status_code == 200


async def test_rate_limit_off_when_empty() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    guard = Hardening(app, settings=Settings(RADFLOW_RATE_LIMIT=""))
    transport = httpx.ASGITransport(app=guard)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        for _ in range(30):
            assert (await client.post("/graphql", json={})).status_code == 200


@pytest.mark.parametrize(
    ("content_type", "content"),
    [
        ("text/plain", '{"query": "mutation { rebalanceNow { __typename } }"}'),
        ("application/x-www-form-urlencoded", "query=mutation+%7B+rebalanceNow+%7D"),
        (
            "multipart/form-data; boundary=x",
            '--x\r\nContent-Disposition: form-data; name="query"'
            "\r\n\r\n{ __typename }\r\n--x--\r\n",
        ),
        ("", '{"query": "{ __typename }"}'),
    ],
)
async def test_bodies_a_browser_form_can_send_are_refused(
    running: Serve, content_type: str, content: str
) -> None:
    async with running() as api:
        for extra in (
            {},
            {"X-Requested-With": "XMLHttpRequest"},
            {"Apollo-Require-Preflight": "true"},
        ):
            response = await api.client.post(
                "/graphql",
                content=content.encode(),
                headers={
                    "Content-Type": content_type,
                    "Authorization": f"Bearer {token_for(*ADMIN)}",
                    **extra,
                },
            )
            assert response.status_code == 415, response.text
            assert "application/json" in response.json()["errors"][0]["message"]
        ok = await api.client.post(
            "/graphql",
            content=b'{"query": "{ __typename }"}',
            headers={"Content-Type": "application/json; charset=utf-8"},
        )
        assert ok.status_code == 200


async def test_queries_over_get_are_refused(running: Serve) -> None:
    async with running() as api:
        response = await api.client.get("/graphql", params={"query": "{ sites { code } }"})
        assert response.status_code >= 400 and "sites" not in response.text.lower()


async def test_an_exception_outside_graphql_is_a_masked_500(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        raise RuntimeError("token=abc123 leaked")

    transport = httpx.ASGITransport(app=Hardening(app, settings=Settings()))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        with caplog.at_level(logging.ERROR, logger="radflow.errors"):
            response = await client.post("/graphql", json={"query": "{ __typename }"})
    assert response.status_code == 500 and "abc123" not in response.text
    correlation_id = response.json()["errors"][0]["extensions"]["correlationId"]
    assert any(correlation_id in r.getMessage() and r.exc_info for r in caplog.records)
