"""graphql-transport-ws, strawberry's handler with radflow's additions.

strawberry already closes 4400 on non-JSON and unknown message types, 4401 on subscribe before
the ack, 4403 when `on_ws_connect` rejects, 4408 when connection_init is late, 4409 on a
duplicate operation id, 4429 on a second connection_init, answers ping with pong, and never
sends `complete` after `error`. Added here:

* 4400 for messages of the wrong shape (JSON that is not an object, a non-string `type` or
  `id`, a subscribe payload without a string `query`), which strawberry would otherwise crash
  on or pass to execution;
* the authentication hook (`authorize_connection`), the one place a connection is accepted;
* shared execution of identical subscriptions (api/live/fanout.py).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any, TypedDict

from starlette.websockets import WebSocket
from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
    Operation,
)
from strawberry.types.unset import UnsetType

from api.auth import ANONYMOUS, AuthenticationFailed, authenticate, expiry
from api.live.context import LiveContext
from api.live.fanout import FanOut, Member, share_key
from application.settings import Settings

TRANSPORT_PROTOCOLS = (GRAPHQL_TRANSPORT_WS_PROTOCOL,)  # the legacy `graphql-ws` is refused


# How uvicorn should serve WebSockets. Measured per frame sent (200 sockets, small JSON):
# legacy `websockets` ~30 µs, `websockets-sansio` with permessage-deflate ~38 µs, without
# ~15 µs. Compressing a 150-byte frame separately for every socket costs more than it saves.
class UvicornWebSockets(TypedDict):
    ws: str
    ws_per_message_deflate: bool


UVICORN_WS_OPTIONS = UvicornWebSockets(ws="websockets-sansio", ws_per_message_deflate=False)
UVICORN_WS_ARGS = ("--ws", "websockets-sansio", "--ws-per-message-deflate", "false")


def authorize_connection(context: LiveContext, settings: Settings) -> None:
    """Decide who a WebSocket speaks for, from connection_init's payload.

    The payload carries `{"authorization": "Bearer <token>"}` (a browser cannot set headers
    on a WebSocket). A bad token, or no token when anonymous connections are not allowed,
    raises ConnectionRejectionError, which closes the socket with 4403.
    """
    header = context.connection_params.get("authorization")
    if header is not None and not isinstance(header, str):
        raise ConnectionRejectionError({"reason": "authorization must be a string"})
    try:
        actor = authenticate(header, settings)
    except AuthenticationFailed as exc:
        raise ConnectionRejectionError({"reason": str(exc)}) from exc
    if actor == ANONYMOUS and not settings.ws_allow_anonymous:
        raise ConnectionRejectionError({"reason": "a token is required"})
    context.actor = actor
    context.expires_at = expiry(header) if header else None


def _well_formed(message: object) -> bool:
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        return False
    if message["type"] in ("subscribe", "complete") and not isinstance(message.get("id"), str):
        return False
    if message["type"] == "subscribe":
        payload = message.get("payload")
        return (
            isinstance(payload, dict)
            and isinstance(payload.get("query"), str)
            and isinstance(payload.get("variables") or {}, dict)
            and isinstance(payload.get("operationName") or "", str)
        )
    return True


class LiveTransportHandler(BaseGraphQLTransportWSHandler[LiveContext, None]):
    """strawberry's graphql-transport-ws handler, stricter and sharing executions."""

    _expiry: asyncio.Task[None] | None = None

    async def handle_connection_init(self, message: Any) -> None:
        """Authenticate (on_ws_connect); then close with 4403 when the token expires, so a
        connection never outlives its credentials."""
        await super().handle_connection_init(message)
        expires_at = self.context.expires_at
        if self.connection_acknowledged and expires_at is not None and self._expiry is None:
            self._expiry = asyncio.create_task(self._close_at(expires_at))

    async def _close_at(self, expires_at: datetime) -> None:
        await asyncio.sleep(max(0.0, (expires_at - datetime.now(UTC)).total_seconds()))
        await self.websocket.close(code=4403, reason="token expired")

    async def shutdown(self) -> None:
        if self._expiry is not None:
            self._expiry.cancel()
        await super().shutdown()

    async def handle_message(self, message: Any) -> None:
        """Refuse malformed messages with 4400, then handle the rest as strawberry does."""
        if not _well_formed(message):
            await self.handle_invalid_message("Invalid message")
            return
        await super().handle_message(message)

    async def run_operation(self, operation: Operation[LiveContext, None]) -> None:
        """Join (or start) the shared stream of identical subscriptions; resuming and
        non-subscription operations run on their own, as strawberry runs them."""
        view = self.view
        assert isinstance(view, WebSocketView)  # the view this handler class is declared on
        fanout = view.fanout
        live = self.context.live
        if live is not None:
            live.active_subscriptions += 1
        try:
            key = share_key(
                self.context, operation.query, operation.variables, operation.operation_name
            )
            if key is None:
                await super().run_operation(operation)
                return
            member = Member(self, operation)
            stream = fanout.join(key, member, self.schema, self.context)
            try:
                await member.done.wait()
            finally:
                stream.leave(member)
        finally:
            if live is not None:
                live.active_subscriptions -= 1


class WebSocketView:
    """The WebSocket half of radflow's GraphQL view (mixed into it in api/app.py)."""

    settings: Settings
    fanout: FanOut
    graphql_transport_ws_handler_class = LiveTransportHandler

    def configure_websockets(self, settings: Settings) -> None:
        """Protocols, limits and timeouts from the settings."""
        self.protocols = TRANSPORT_PROTOCOLS
        self.connection_init_wait_timeout = timedelta(seconds=settings.ws_init_timeout_seconds)
        self.max_subscriptions_per_connection = settings.ws_max_subscriptions
        self.fanout = FanOut()

    def websocket_context(self, websocket: WebSocket, base: dict[str, Any]) -> LiveContext:
        """A connection's context: anonymous until connection_init says otherwise."""
        return LiveContext(**base, request=None, actor=ANONYMOUS, live=websocket.app.state.live)

    async def on_ws_connect(self, context: LiveContext) -> UnsetType | dict[str, object] | None:
        """connection_init: authenticate, or close with 4403."""
        authorize_connection(context, self.settings)
        return UnsetType()  # the one UNSET (strawberry types UNSET itself as Any)
