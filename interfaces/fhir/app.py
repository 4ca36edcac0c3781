"""FHIR R4 over HTTP at /fhir: metadata, read and search of the served resource types,
ServiceRequest create and REST-hook Subscriptions, as the bearer token's actor, each request
audited.

The API passes in how a bearer token becomes an actor (`identify`), so the same tokens hold
here as on GraphQL without this transport importing the API. Reads are bounded by
`domain.access` scopes; an order runs as the placeOrder command. A read that returned patient
data, a refusal and every create or delete write an audit record (an order's in its command's
transaction).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from domain import audit
from domain.db import Database
from domain.enums import Role
from domain.lifecycle import Actor
from interfaces.fhir.capability import capability_statement
from interfaces.fhir.kind import ResourceType
from interfaces.fhir.orders import condition_of, order_of, parse_body, place
from interfaces.fhir.outcome import FhirError, Unauthenticated
from interfaces.fhir.reads import read_one, search_page
from interfaces.fhir.resources import RESOURCES
from interfaces.fhir.responses import JSON_TYPES, base_of, fhir_response, refusal, searchset
from interfaces.fhir.search import conditions, cursor, page_size
from interfaces.fhir.subscription_routes import SubscriptionRoutes

log = logging.getLogger("radflow.fhir")

Identify = Callable[[str | None], Actor]  # Authorization header -> actor, or Unauthenticated
Handler = Callable[[Request, Actor], Awaitable[Response]]
TypedHandler = Callable[[Request, Actor, ResourceType], Awaitable[Response]]
ACTIONS = {"POST": audit.AuditAction.CREATE, "DELETE": audit.AuditAction.DELETE}


class FhirInterface:
    """The routes of one FHIR endpoint over one database."""

    def __init__(
        self,
        db: Database,
        identify: Identify,
        *,
        max_body_bytes: int = 1_048_576,
        subscriptions_changed: Callable[[], None] = lambda: None,
        subscription_endpoints: Sequence[str] = (),
    ) -> None:
        self.db = db
        self.identify = identify
        self.max_body = max_body_bytes
        self.subscriptions = SubscriptionRoutes(
            db, self.body, subscriptions_changed, subscription_endpoints
        )

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/metadata", self.metadata, methods=["GET"]),
                Route(
                    "/Subscription",
                    self.guarded(self.subscriptions.search_or_create),
                    methods=["GET", "POST"],
                ),
                Route(
                    "/Subscription/{id}",
                    self.guarded(self.subscriptions.read_or_delete),
                    methods=["GET", "DELETE"],
                ),
                Route("/{type}/{id}", self.guarded(self.typed(self.read)), methods=["GET"]),
                Route(
                    "/{type}",
                    self.guarded(self.typed(self.search_or_create)),
                    methods=["GET", "POST"],
                ),
            ],
            exception_handlers={404: self.not_found, 405: self.not_allowed},
        )

    async def metadata(self, request: Request) -> Response:
        return fhir_response(capability_statement(base_of(request)))

    async def not_found(self, request: Request, exc: Exception) -> Response:
        return refusal(
            FhirError.one(404, "not-supported", f"no FHIR endpoint at {request.url.path}")
        )

    async def not_allowed(self, request: Request, exc: Exception) -> Response:
        return refusal(
            FhirError.one(405, "not-supported", f"{request.method} is not supported here")
        )

    def typed(self, handler: TypedHandler) -> Handler:
        """A handler of the resource type the path names (404 for one radflow does not serve)."""

        async def resolved(request: Request, actor: Actor) -> Response:
            name = request.path_params["type"]
            kind = RESOURCES.get(name)
            if kind is None:
                raise FhirError.one(404, "not-supported", f"radflow serves no {name} resources")
            return await handler(request, actor, kind)

        return resolved

    def guarded(self, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        """The handler run as the token's actor, inside an audit trail, errors as outcomes."""

        async def endpoint(request: Request) -> Response:
            try:
                actor = self.identify(request.headers.get("authorization"))
            except Unauthenticated as failed:
                return refusal(FhirError.one(401, "login", str(failed)))
            name = request.path_params.get("type", "Subscription")
            creating = request.method != "GET"
            trail = audit.Trail(
                actor=actor,
                client_address=request.client.host if request.client else None,
                operation=operation_name(request, name)[:200],
                action=ACTIONS.get(request.method, audit.AuditAction.READ),
                always=creating,
            )
            token = audit.current_trail.set(trail)
            try:
                if actor.role is Role.ANONYMOUS:
                    raise FhirError.one(401, "login", "use `Authorization: Bearer <token>`")
                response = await handler(request, actor)
            except FhirError as error:
                if error.status in (401, 403):
                    audit.note_failure(f"FHIR {name}: {error}", denied=True)
                elif creating:
                    audit.note_failure(f"FHIR {name}: {error}")
                response = refusal(error)
            except Exception:  # a bug: logged, and answered without its details
                log.exception("FHIR %s %s failed", request.method, request.url.path)
                audit.note_failure(f"FHIR {name}: internal error")
                response = refusal(FhirError.one(500, "exception", "internal error"))
            finally:
                audit.current_trail.reset(token)
            if trail.needs_record():  # no patient data leaves unaudited
                await self.db.write_audit(trail)
            return response

        return endpoint

    async def read(self, request: Request, actor: Actor, kind: ResourceType) -> Response:
        key = request.path_params["id"]
        trail = audit.current_trail.get()
        found = None
        if key.isdigit() and len(key) <= 18:
            found = await self.db.read(lambda s: read_one(s, kind, actor, int(key), trail))
        if found is None:  # absent, or not the caller's: the same answer
            raise FhirError.one(404, "not-found", f"{kind.name}/{key[:64]} is not known")
        return fhir_response(found)

    async def search_or_create(
        self, request: Request, actor: Actor, kind: ResourceType
    ) -> Response:
        if request.method == "POST":
            return await self.create(request, actor, kind)
        query = list(request.query_params.multi_items())
        names = {name for name, _ in query}
        hidden = names & kind.phi_parameters
        if hidden and not actor.phi:
            raise FhirError.one(
                403,
                "forbidden",
                f"searching by {', '.join(sorted(hidden))} needs access to patients' "
                "identifying details (the token's phi claim)",
            )
        where = conditions(kind.name, dict(kind.parameters), query)
        count, after = page_size(query), cursor(query)
        trail = audit.current_trail.get()
        page = await self.db.read(
            lambda s: search_page(s, kind, actor, where, after=after, count=count, trail=trail)
        )
        base = base_of(request)
        kept = [(k, v) for k, v in query if k != "_cursor"]
        links = [{"relation": "self", "url": str(request.url)}]
        if page.next_after is not None:
            following = urlencode([*kept, ("_cursor", str(page.next_after))])
            links.append({"relation": "next", "url": f"{base}{kind.name}?{following}"})
        bundle = searchset(base, kind.name, page.resources, links)
        return fhir_response(bundle)

    async def create(self, request: Request, actor: Actor, kind: ResourceType) -> Response:
        if not kind.create:
            raise FhirError.one(405, "not-supported", f"{kind.name} is read-only here")
        media = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media not in JSON_TYPES:
            raise FhirError.one(415, "not-supported", "send application/fhir+json")
        body = await self.body(request)
        order = order_of(parse_body(body))
        condition = condition_of(request.headers.get("if-none-exist"))
        exam_id, created = await place(self.db, actor, order, condition)
        trail = audit.current_trail.get()
        found = await self.db.read(lambda s: read_one(s, kind, actor, exam_id, trail))
        if found is None:  # placed, but no longer the caller's to see (cannot happen today)
            raise FhirError.one(404, "not-found", f"{kind.name}/{exam_id} is not known")
        location = f"{base_of(request)}{kind.name}/{exam_id}"
        return fhir_response(found, 201 if created else 200, {"Location": location})

    async def body(self, request: Request) -> bytes:
        """The request body, refused (413) once it passes the limit."""
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_body:
            raise FhirError.one(413, "too-costly", f"the body is over {self.max_body} bytes")
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > self.max_body:
                raise FhirError.one(413, "too-costly", f"the body is over {self.max_body} bytes")
            chunks.append(chunk)
        return b"".join(chunks)


def operation_name(request: Request, name: str) -> str:
    """What the audit record calls the request: never the search values (they may be PHI)."""
    if request.method in ("POST", "DELETE"):
        verb = "create" if request.method == "POST" else "delete"
        return f"FHIR {verb} {name}" + (
            f"/{request.path_params['id'][:20]}" if "id" in request.path_params else ""
        )
    if "id" in request.path_params:
        return f"FHIR read {name}/{request.path_params['id'][:20]}"
    names = sorted({k for k in request.query_params if k not in ("_cursor",)})
    return f"FHIR search {name}?{','.join(names)}"


def fhir_app(db: Database, identify: Identify, **options: Any) -> Starlette:
    """The FHIR endpoint as an ASGI app, to mount at /fhir."""
    return FhirInterface(db, identify, **options).app()
