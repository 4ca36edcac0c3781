"""The Subscription endpoints: POST /Subscription, GET /Subscription[/{id}], DELETE /{id}."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from starlette.requests import Request
from starlette.responses import Response

from domain.db import Database, UnitOfWork
from domain.lifecycle import Actor
from domain.models import FhirSubscription
from interfaces.fhir.outcome import FhirError
from interfaces.fhir.responses import JSON_TYPES, base_of, fhir_response, searchset
from interfaces.fhir.subscriptions import (
    SUBSCRIBERS,
    as_resource,
    owned,
    parse_subscription,
    remove,
    store,
)

Body = Callable[[Request], Awaitable[bytes]]


class SubscriptionRoutes:
    """Subscriptions kept in the database, for the roles that may follow the department."""

    def __init__(
        self,
        db: Database,
        body: Body,
        changed: Callable[[], None],
        endpoints: Sequence[str] = (),
    ) -> None:
        self.db = db
        self.body = body
        self.changed = changed  # the notifier of this process reads its list again
        self.endpoints = tuple(endpoints)  # where subscriptions may send (empty: nowhere)

    @staticmethod
    def _allowed(actor: Actor) -> None:
        if actor.role not in SUBSCRIBERS:
            raise FhirError.one(
                403, "forbidden", f"role {actor.role.value} may not subscribe to the department"
            )

    async def search_or_create(self, request: Request, actor: Actor) -> Response:
        self._allowed(actor)
        if request.method == "GET":
            if any(k != "_count" for k in request.query_params):
                raise FhirError.one(400, "not-supported", "Subscription takes no search parameters")
            rows = await self.db.read(lambda s: owned(s, actor, None))
            links = [{"relation": "self", "url": str(request.url)}]
            resources = [as_resource(r) for r in rows]
            return fhir_response(searchset(base_of(request), "Subscription", resources, links))
        media = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media not in JSON_TYPES:
            raise FhirError.one(415, "not-supported", "send application/fhir+json")
        row = parse_subscription(await self.body(request), actor, self.endpoints)

        def create(uow: UnitOfWork) -> FhirSubscription:
            return store(uow, row)

        stored = await self.db.run(create)
        self.changed()
        location = f"{base_of(request)}Subscription/{stored.id}"
        return fhir_response(as_resource(stored), 201, {"Location": location})

    async def read_or_delete(self, request: Request, actor: Actor) -> Response:
        self._allowed(actor)
        key = request.path_params["id"]
        if not key.isdigit() or len(key) > 18:
            raise FhirError.one(404, "not-found", f"Subscription/{key[:64]} is not known")
        if request.method == "DELETE":
            if not await self.db.run(lambda uow: remove(uow, actor, int(key))):
                raise FhirError.one(404, "not-found", f"Subscription/{key} is not known")
            self.changed()
            return Response(status_code=204)
        rows = await self.db.read(lambda s: owned(s, actor, int(key)))
        if not rows:
            raise FhirError.one(404, "not-found", f"Subscription/{key} is not known")
        return fhir_response(as_resource(rows[0]))
