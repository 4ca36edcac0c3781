"""Alembic builds the schema on an empty database, and matches the models exactly."""

from __future__ import annotations

import asyncio
from pathlib import Path

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel import SQLModel

from alembic import command
from domain.db import normalise_url
from tests.conftest import POSTGRES_URL, need_service

ROOT = Path(__file__).resolve().parents[2]


def upgrade(url: str) -> None:
    config = Config(str(ROOT / "alembic.ini"))
    config.attributes["database_url"] = url
    command.upgrade(config, "head")


def differences(connection: sa.Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, SQLModel.metadata))


def test_migrations_build_sqlite_and_match_the_models(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'migrated.db'}"
    upgrade(url)
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        assert differences(connection) == []
        tables = set(sa.inspect(connection).get_table_names())
    engine.dispose()
    assert set(SQLModel.metadata.tables) <= tables


def test_migrations_build_postgresql_and_match_the_models() -> None:
    if not POSTGRES_URL:
        need_service("PostgreSQL", "TEST_DATABASE_URL")
    assert POSTGRES_URL is not None
    url = normalise_url(POSTGRES_URL)

    async def reset_and_compare(reset: bool) -> list[object]:
        engine = create_async_engine(url)
        async with engine.begin() as connection:
            if reset:
                await connection.execute(sa.text("DROP SCHEMA public CASCADE"))
                await connection.execute(sa.text("CREATE SCHEMA public"))
                found: list[object] = []
            else:
                found = await connection.run_sync(differences)
        await engine.dispose()
        return found

    asyncio.run(reset_and_compare(reset=True))
    try:
        upgrade(POSTGRES_URL)  # alembic runs its own event loop for asyncpg
        assert asyncio.run(reset_and_compare(reset=False)) == []
    finally:
        # Leave the schema as the other PostgreSQL tests expect it (created from the models).
        async def recreate() -> None:
            engine = create_async_engine(url)
            async with engine.begin() as connection:
                await connection.execute(sa.text("DROP SCHEMA public CASCADE"))
                await connection.execute(sa.text("CREATE SCHEMA public"))
                await connection.run_sync(SQLModel.metadata.create_all)
            await engine.dispose()

        asyncio.run(recreate())


def test_a_new_sqlite_file_gets_its_folder(tmp_path: Path) -> None:
    target = tmp_path / "nested" / "dir" / "radflow.db"
    upgrade(f"sqlite:///{target}")
    assert target.exists()


def test_the_cancelled_at_migration_dates_earlier_cancellations_from_the_history(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'migrated.db'}"
    config = Config(str(ROOT / "alembic.ini"))
    config.attributes["database_url"] = url
    command.upgrade(config, "ae8e84396b52")  # the revision before appointments.cancelled_at
    engine = sa.create_engine(url)  # SQLite leaves foreign keys unchecked: bare rows will do
    with engine.begin() as connection:
        for exam, status in ((1, "CANCELLED"), (2, "ARRIVED")):
            connection.execute(
                sa.text(
                    "INSERT INTO appointments (exam_id, resource_id, starts_at, ends_at, status, "
                    "booked_at, booked_by) VALUES (:exam, 1, '2026-03-03 09:00:00.000000', "
                    "'2026-03-03 09:30:00.000000', :status, '2026-03-01 08:00:00.000000', 'desk')"
                ),
                {"exam": exam, "status": status},
            )
            connection.execute(
                sa.text(
                    "INSERT INTO exam_status_history (exam_id, to_status, event, actor, role, at) "
                    "VALUES (:exam, :status, 'E', 'desk', 'scheduler', "
                    "'2026-03-02 20:00:00.000000')"
                ),
                {"exam": exam, "status": "CANCELLED" if status == "CANCELLED" else "CHECKED_IN"},
            )
    command.upgrade(config, "head")
    with engine.connect() as connection:
        dated = connection.execute(
            sa.text("SELECT exam_id, cancelled_at FROM appointments ORDER BY exam_id")
        ).all()
    engine.dispose()
    assert dated == [(1, "2026-03-02 20:00:00.000000"), (2, None)]


def test_the_follow_up_migration_keeps_due_dates_and_takes_region_from_the_procedure(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'migrated.db'}"
    config = Config(str(ROOT / "alembic.ini"))
    config.attributes["database_url"] = url
    command.upgrade(config, "4c8f1a2e6d37")  # the revision before the follow-up fields
    engine = sa.create_engine(url)  # SQLite leaves foreign keys unchecked: bare rows will do
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO procedures (code, name, modality, body_part, subspecialty, wrvu, "
                "read_minutes, scan_minutes, active) VALUES ('CTCHEST', 'CT chest', "
                "'CT', 'CHEST', 'CHEST', 1.0, 10, 15, 1)"
            )
        )
        for code in ("CTCHEST", None):
            connection.execute(
                sa.text(
                    "INSERT INTO follow_up_recommendations (exam_id, recommendation, "
                    "procedure_code, due_on, status, created_at, created_by) VALUES (1, 'CT', "
                    ":code, '2026-06-01', 'OPEN', '2026-03-01 08:00:00.000000', 'RAD01')"
                ),
                {"code": code},
            )
    command.upgrade(config, "head")
    with engine.connect() as connection:
        rows = connection.execute(
            sa.text(
                "SELECT procedure_code, modality, body_region, due_on, interval_count, "
                "escalation_count FROM follow_up_recommendations ORDER BY id"
            )
        ).all()
    engine.dispose()
    assert rows == [
        ("CTCHEST", "CT", "CHEST", "2026-06-01", None, 0),
        (None, None, None, "2026-06-01", None, 0),
    ]
