"""Field helpers so each table reads as the department's data, not column plumbing."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from domain.types import UTCDateTime, enum_type, json_type


def core_table(model: type[SQLModel]) -> sa.Table:
    """The Core table behind a table model (SQLModel does not declare `__table__` for mypy)."""
    table = sa.inspect(model).local_table
    assert isinstance(table, sa.Table)
    return table


def when(*, nullable: bool = False, index: bool = False) -> Any:
    """A UTC timestamp column."""
    return Field(
        default=None if nullable else ...,
        sa_column=sa.Column(UTCDateTime(), nullable=nullable, index=index),
    )


def choice(
    enum: type[StrEnum],
    *,
    default: StrEnum | None = None,
    nullable: bool = False,
    index: bool = False,
) -> Any:
    """An enum column stored as text."""
    return Field(
        default=default if default is not None else (None if nullable else ...),
        sa_column=sa.Column(enum_type(enum), nullable=nullable, index=index),
    )


def document(*, nullable: bool = False) -> Any:
    """A JSON column (JSONB on PostgreSQL) holding structured data."""
    return Field(
        default=None if nullable else ...,
        sa_column=sa.Column(json_type(), nullable=nullable),
    )


def ref(target: str, *, nullable: bool = False, index: bool = True) -> Any:
    """A foreign key to `table.id`."""
    return Field(
        default=None if nullable else ...,
        foreign_key=f"{target}.id",
        index=index,
        nullable=nullable,
    )


def text(
    max_length: int,
    *,
    nullable: bool = False,
    default: str | None = None,
    index: bool = False,
    unique: bool = False,
) -> Any:
    """A bounded string column."""
    fill = default if default is not None else (None if nullable else ...)
    return Field(default=fill, max_length=max_length, nullable=nullable, index=index, unique=unique)


__all__ = ["choice", "datetime", "document", "ref", "text", "when"]
