"""Call an ASGI app in-process with next to no client overhead (a benchmark harness).

httpx's ASGI transport costs a few hundred microseconds per request, as much as some of the
mutations we measure; this caller builds the scope and collects the response directly.
"""

from __future__ import annotations

import json
from typing import Any


class AsgiClient:
    """POST JSON to an ASGI app and decode the JSON answer."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def post_json(
        self, path: str, payload: object, headers: dict[str, str] | None = None
    ) -> Any:
        body = json.dumps(payload).encode()
        raw_headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"host", b"bench"),
        ]
        raw_headers += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": raw_headers,
            "client": ("127.0.0.1", 1),
            "server": ("bench", 80),
        }
        sent = False
        chunks: list[bytes] = []
        status = 0

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, send)
        if status != 200:
            raise RuntimeError(f"HTTP {status}: {b''.join(chunks)[:300]!r}")
        return json.loads(b"".join(chunks))
