"""Alembic environment: migrates SQLite (sqlite3) or PostgreSQL (asyncpg) from the models."""

from __future__ import annotations

import asyncio

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel import SQLModel

import domain.models  # noqa: F401  (registers every table)
from alembic import context
from application.settings import get_settings
from domain.db import ensure_sqlite_folder, normalise_url
from domain.types import UTCDateTime

config = context.config
target_metadata = SQLModel.metadata


def _url() -> sa.URL:
    explicit = config.attributes.get("database_url") or config.get_main_option("sqlalchemy.url")
    return normalise_url(explicit or get_settings().database_url)


def _render_item(kind: str, obj: object, autogen_context: object) -> str | bool:
    # Our own column types render by their import path; everything else the default way.
    if kind == "type" and isinstance(obj, UTCDateTime):
        return "domain.types.UTCDateTime()"
    if kind == "type" and isinstance(obj, sa.JSON):
        return "domain.types.json_type()"
    return False


def _configure(connection: sa.Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        render_as_batch=connection.dialect.name == "sqlite",
        render_item=_render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_offline() -> None:
    """Emit SQL without a database."""
    context.configure(
        url=_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        compare_type=True,
        render_item=_render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    """Migrate a live database."""
    url = _url()
    if url.get_backend_name() == "sqlite":
        ensure_sqlite_folder(url)
        engine = sa.create_engine(url)
        try:
            with engine.connect() as connection:
                _configure(connection)
        finally:
            engine.dispose()
        return

    async def migrate() -> None:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as connection:
                await connection.run_sync(_configure)
        finally:
            await engine.dispose()  # also when a migration fails: no connection left to the GC

    asyncio.run(migrate())


if context.is_offline_mode():
    run_offline()
else:
    run_online()
