"""Column types shared by the tables: UTC timestamps and enums stored as text."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """An aware timestamp, always stored in UTC; SQLite gets it back aware too."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: radflow stores aware times only")
        # SQLite has no zone-aware type: its DATETIME writes the UTC wall time as text (naive
        # UTC, so ordering stays textual-correct) and ignores the zone.
        return value if value.tzinfo is UTC else value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def result_processor(self, dialect: Dialect, coltype: object) -> Any:
        """On SQLite, the stored text read straight into an aware UTC time (as the DATETIME
        reader and then `process_result_value` would make it, in one step)."""
        if dialect.name != "sqlite":
            return super().result_processor(dialect, coltype)
        slow = super().result_processor(dialect, coltype)
        assert slow is not None  # a TypeDecorator's reader always processes

        def process(value: str | None) -> datetime | None:
            if value is None:
                return None
            try:
                return _from_text(value + "+00:00")
            except (TypeError, ValueError):  # not the naive text radflow writes
                parsed: datetime | None = slow(value)
                return parsed

        return process


_from_text = datetime.fromisoformat


def enum_type(enum: type[StrEnum]) -> sa.Enum:
    """A portable enum column: stored as its text value, no native database enum type."""
    return sa.Enum(
        enum,
        native_enum=False,
        create_constraint=False,
        length=32,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


def utcnow() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC)


def json_type() -> Any:
    """JSON on SQLite, JSONB on PostgreSQL."""
    from sqlalchemy.dialects.postgresql import JSONB

    return sa.JSON().with_variant(JSONB(), "postgresql")


def pk(row: Any) -> int:
    """The primary key of a persisted row (a flushed or loaded row always has one)."""
    key = row.id
    if not isinstance(key, int):
        raise RuntimeError(f"{type(row).__name__} has no primary key yet: flush it first")
    return key
