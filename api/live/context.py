"""The context of a WebSocket connection: the request context plus the live machinery."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from api.context import Context
from api.live.service import Live
from api.loaders import Loaders


@dataclass
class LiveContext(Context):
    """One per WebSocket connection; `actor` is set by connection_init (api/live/transport.py)."""

    live: Live | None = None
    connection_params: dict[str, Any] = field(default_factory=dict)
    expires_at: datetime | None = None  # the token's expiry: the connection closes then

    def fresh_loaders(self) -> None:
        """New DataLoaders, so each delivered event reads the changed object as it is now
        (a connection lives for hours; its first loaders would serve stale rows)."""
        self.loaders = Loaders(self.db)
