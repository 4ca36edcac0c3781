"""The per-request context every resolver receives."""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.requests import Request
from strawberry.types import Info as StrawberryInfo

from api.auth import authenticate
from api.loaders import Loaders
from application.commands import Commands
from application.planning.runner import BalancerRunner
from application.settings import Settings
from domain.db import Database
from domain.lifecycle import Actor


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

    @property
    def commands(self) -> Commands:
        """The application's commands, run as this request's actor."""
        return Commands(self.db, self.actor)


Info = StrawberryInfo[Context, None]


def actor_from_request(request: Request, settings: Settings) -> Actor:
    """Who is calling: the bearer token's person and role (no token: anonymous)."""
    return authenticate(request.headers.get("authorization"), settings)
