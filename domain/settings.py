"""One typed settings object, read from the environment."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SQLITE_PATH = Path("var") / "radflow.db"


class Settings(BaseSettings):
    """radflow's configuration; every field maps to an environment variable."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", frozen=True)

    database_url: str = Field(
        default=f"sqlite:///{DEFAULT_SQLITE_PATH}",
        description="SQLAlchemy URL: sqlite:///path (embedded default) or "
        "postgresql+asyncpg://user@host/db (production).",
    )
    redis_url: str | None = Field(default=None, description="Redis URL; unset = in-process broker.")
    host: str = Field(default="127.0.0.1", alias="RADFLOW_HOST")
    port: int = Field(default=8000, alias="RADFLOW_PORT")
    production: bool = Field(
        default=False,
        alias="RADFLOW_PRODUCTION",
        description="Production mode: no GraphiQL, no introspection, masked errors.",
    )
    max_query_depth: int = Field(default=12, alias="RADFLOW_MAX_QUERY_DEPTH")
    jwt_secret: str | None = Field(
        default=None, alias="RADFLOW_JWT_SECRET",
        description="HS256 secret for bearer tokens; development falls back to a fixed one.")
    jwt_public_keys: str | None = Field(
        default=None, alias="RADFLOW_JWT_PUBLIC_KEYS",
        description="Path of a PEM file with the RS256 public key(s) tokens are signed for.")
    jwt_issuer: str = Field(default="radflow", alias="RADFLOW_JWT_ISSUER")
    jwt_audience: str = Field(default="radflow-api", alias="RADFLOW_JWT_AUDIENCE")
    balancer_enabled: bool = Field(
        default=True, alias="RADFLOW_BALANCER",
        description="Run the worklist balancer in this process (re-plan on events and ticks).")
    balancer_tick_seconds: float = Field(default=30.0, gt=0, alias="RADFLOW_BALANCER_TICK")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
