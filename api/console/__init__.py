"""The department console at /console: static ES modules that use only the public GraphQL API.

The page talks to /graphql over HTTP and to its graphql-transport-ws subscriptions, like any
frontend; the server only hands out its files. In development one more route mints a demo
user's token (`POST /console/demo-token`), the same token `radflow token` prints; in production
it does not exist and the page asks for a token to paste.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.auth import ROLES, mint
from application.demo import DEMO_USERS
from application.settings import Settings
from domain.enums import Role

STATIC = Path(__file__).resolve().parent / "static"
DEMO_TOKEN_LIFETIME = timedelta(hours=8)
# The page's own files and /graphql (HTTP and WebSocket), nothing else: no inline script, no
# third-party origin, no framing.
POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)


def console_routes(settings: Settings) -> list[BaseRoute]:
    """The console's routes: the demo sign-in (development only), then its files."""
    routes: list[BaseRoute] = []
    if not settings.production:
        routes.append(Route("/console/demo-token", _demo_token(settings), methods=["POST"]))
    files = StaticFiles(directory=STATIC, html=True)
    routes.append(Mount("/console", app=_Guarded(files), name="console"))
    return routes


def _demo_token(settings: Settings) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        """A demo user's token: `{"role": ..., "subject": optional}` as JSON."""
        media_type = request.headers.get("content-type", "").partition(";")[0].strip()
        if media_type != "application/json":  # no cross-site form posts
            return _refusal(415, 'send JSON: {"role": ..., "subject": ...}')
        try:
            body = await request.json()
        except ValueError:
            return _refusal(400, "the body is not JSON")
        role = body.get("role") if isinstance(body, dict) else None
        if role not in ROLES:
            return _refusal(400, f"role must be one of {', '.join(sorted(ROLES))}")
        subject = body.get("subject") or DEMO_USERS[Role(role)][0]
        if not isinstance(subject, str) or not 0 < len(subject) <= 64:
            return _refusal(400, "subject must be a code of 1 to 64 characters")
        sites = DEMO_USERS[Role(role)][1]
        token = mint(
            role=Role(role),
            subject=subject,
            settings=settings,
            lifetime=DEMO_TOKEN_LIFETIME,
            sites=list(sites) or None,
        )
        return JSONResponse({"token": token, "role": role, "subject": subject})

    return endpoint


def _refusal(status: int, message: str) -> Response:
    return JSONResponse({"error": message}, status_code=status)


class _Guarded:
    """The static files with the console's content security policy on every answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_policy(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [
                    (b"content-security-policy", POLICY.encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer"),
                    (b"cache-control", b"no-cache"),
                ]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_policy)
