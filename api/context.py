"""The per-request context every resolver receives."""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.requests import Request
from strawberry.types import Info as StrawberryInfo

from api.loaders import Loaders
from balancer.live import BalancerRunner
from domain.db import Database
from domain.enums import Role
from domain.lifecycle import Actor
from domain.settings import Settings


@dataclass
class Context:
    """The database, the acting user and this request's DataLoaders."""

    db: Database
    settings: Settings
    actor: Actor
    request: Request | None
    runner: BalancerRunner
    loaders: Loaders = field(init=False)

    def __post_init__(self) -> None:
        self.loaders = Loaders(self.db)


Info = StrawberryInfo[Context, None]

ACTOR_HEADER = "x-radflow-actor"
ROLE_HEADER = "x-radflow-role"
DEVELOPMENT_ACTOR = Actor("developer", Role.ADMIN)


def actor_from_request(request: Request, settings: Settings) -> Actor:
    """Who is calling.

    Until bearer tokens arrive (the security issue), the caller names itself in the
    `X-Radflow-Actor` and `X-Radflow-Role` headers; without them a development instance acts as
    an administrator, and a production instance as nobody at all.
    """
    actor_id = request.headers.get(ACTOR_HEADER, "").strip()[:64]
    role_name = request.headers.get(ROLE_HEADER, "").strip().lower()
    if actor_id and role_name in Role._value2member_map_:
        return Actor(actor_id, Role(role_name))
    if settings.production:
        return Actor("anonymous", Role.ANONYMOUS)
    return DEVELOPMENT_ACTOR
