"""HTTP guards in front of /graphql: rate limit, content type (CSRF), body size, 500s masked.

An ASGI middleware rather than code in the GraphQL view, so a refused request costs no
parsing: a caller over its rate gets 429 before its body is read, a body that is not JSON gets
415 before it is read, and a body over the limit gets 413 as soon as the bytes received pass
it (the declared Content-Length is checked first; a chunked body is counted while it streams,
so a huge one is never held in memory). Refusals are JSON `{"errors": [{message, extensions:
{code}}]}` like any other GraphQL error.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import time
from collections.abc import Iterable
from math import ceil

from cross_web import HTTPException
from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.http.base import BaseView

from api.auth import AuthenticationFailed, authenticate
from application.settings import Settings

log = logging.getLogger("radflow.errors")


class Hardening:
    """The guards for one path (the GraphQL endpoint); every other request passes through."""

    def __init__(self, app: ASGIApp, *, settings: Settings, path: str = "/graphql") -> None:
        self.app = app
        self.settings = settings
        self.path = path
        self.max_body = settings.max_body_bytes
        # Sliding window counter: O(1) state per caller, and no burst of twice the limit at
        # a window boundary as a fixed window allows. The asyncio storage: measured with hits
        # 1 ms apart, it costs 23 us a hit; the synchronous one 44, because it starts a timer
        # thread for expiry every 10 ms under traffic (a thread start, and GIL handovers).
        self.rate: RateLimitItem | None = (
            parse(settings.rate_limit) if settings.rate_limit else None
        )
        self.limiter = SlidingWindowCounterRateLimiter(MemoryStorage())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != self.path:
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if self.rate is not None:
            retry_after = await self._over_rate(self._caller(scope, headers))
            if retry_after is not None:
                await _refuse(
                    send,
                    429,
                    "RATE_LIMITED",
                    f"Too many requests: at most {self.rate.amount} per "
                    f"{self.rate.multiples} {self.rate.GRANULARITY.name} for one "
                    f"caller; retry in {retry_after} s.",
                    [(b"retry-after", str(retry_after).encode())],
                )
                return
        if scope["method"] == "POST":
            media_type = headers.get("content-type", "").partition(";")[0].strip().lower()
            if media_type != "application/json":
                await _refuse(
                    send,
                    415,
                    "UNSUPPORTED_MEDIA_TYPE",
                    "Send the operation as JSON (Content-Type: application/json).",
                )
                return
            declared = headers.get("content-length", "")
            if declared.isdigit() and int(declared) > self.max_body:
                await self._too_large(send)
                return
            try:
                body = await _read_at_most(receive, self.max_body)
            except _TooLarge:
                await self._too_large(send)
                return
            if body is None:  # the client went away mid-body
                return
            receive = _replay(body, receive)
        await self._call_masked(scope, receive, send)

    def _caller(self, scope: Scope, headers: Headers) -> str:
        """The rate limit key: the token's person when it verifies, else the client address."""
        authorization = headers.get("authorization")
        if authorization:
            # Verified tokens are remembered until they expire (api/auth.py): this costs a
            # lookup, and the GraphQL view's own check then costs another.
            try:
                actor = authenticate(authorization, self.settings)
            except AuthenticationFailed:
                pass  # refused with 401 further in; counted against its address meanwhile
            else:
                return f"user:{actor.role.value}:{actor.id}"
        client = scope.get("client")
        return f"address:{client[0] if client else 'unknown'}"

    async def _over_rate(self, key: str) -> int | None:
        """None if the caller may go on, else the seconds until it may retry."""
        assert self.rate is not None
        if await self.limiter.hit(self.rate, key):
            return None
        stats = await self.limiter.get_window_stats(self.rate, key)
        return max(1, ceil(stats.reset_time - time.time()))

    async def _too_large(self, send: Send) -> None:
        await _refuse(
            send,
            413,
            "PAYLOAD_TOO_LARGE",
            f"The request body is larger than {self.max_body} bytes.",
        )

    async def _call_masked(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the app; an exception before the response starts becomes a masked 500."""
        started = False

        async def watch(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception as exc:
            if started:
                raise
            correlation_id = secrets.token_hex(8)
            log.error(
                "internal error %s in %s %s",
                correlation_id,
                scope["method"],
                scope["path"],
                exc_info=exc,
            )
            await _refuse(
                send,
                500,
                "INTERNAL_SERVER_ERROR",
                "Internal server error",
                correlation_id=correlation_id,
            )


class _TooLarge(Exception):
    """The body passed the limit; reading stopped there."""


async def _read_at_most(receive: Receive, limit: int) -> bytes | None:
    """The whole body (None if the client disconnects); _TooLarge once it passes `limit`."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _TooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive that hands over the buffered body once, then the connection's own events."""
    pending = True

    async def replay() -> Message:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _refuse(
    send: Send,
    status: int,
    code: str,
    message: str,
    headers: list[tuple[bytes, bytes]] | None = None,
    *,
    correlation_id: str | None = None,
) -> None:
    extensions = {"code": code}
    if correlation_id:
        extensions["correlationId"] = correlation_id
    body = json.dumps({"errors": [{"message": message, "extensions": extensions}]}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class JsonBodies(BaseView):  # type: ignore[type-arg]
    """Strawberry's JSON parsing, with the bodies it would turn into a 500 refused as 400s.

    A body that is JSON but not an object (`"text"`, `42`, `null`) reached `.get()` on a
    non-dict; a deeply nested array exhausted the recursion limit; bytes that are not UTF-8
    escaped as UnicodeDecodeError. Each is the client's mistake and gets a 400 saying so.
    """

    def parse_json(self, data: str | bytes) -> object:
        try:
            decoded = super().parse_json(data)
        except RecursionError as exc:
            raise HTTPException(400, "The JSON body is nested too deeply.") from exc
        except UnicodeDecodeError as exc:
            raise HTTPException(400, "The request body is not UTF-8 JSON.") from exc
        if not isinstance(decoded, dict | list):
            raise HTTPException(
                400, 'The JSON body must be an object: {"query": ..., "variables": {...}}.'
            )
        # Only JSON escapes can put these in a string; look closer only when one is there.
        if _ESCAPES.search(data if isinstance(data, bytes) else data.encode()):
            where = _not_text(decoded, "")
            if where is not None:
                raise HTTPException(
                    400,
                    f"{where or 'The body'} holds a NUL character or an "
                    "unpaired surrogate, which no text may contain.",
                )
        return decoded


_ESCAPES = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")
NOT_TEXT = re.compile("[\x00\ud800-\udfff]")


def _not_text(value: object, path: str) -> str | None:
    """The path of the first string (or key) holding NUL or a lone surrogate, if any."""
    if isinstance(value, str):
        return path if NOT_TEXT.search(value) else None
    items: Iterable[tuple[object, object]] = (
        value.items()
        if isinstance(value, dict)
        else enumerate(value)
        if isinstance(value, list)
        else ()
    )
    for key, item in items:
        where = f"{path}.{key}" if path else str(key)
        if isinstance(key, str) and NOT_TEXT.search(key):
            return where
        found = _not_text(item, where)
        if found is not None:
            return found
    return None
