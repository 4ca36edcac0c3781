"""The base of every table model: SQLModel's, with a leaner assignment to a column.

SQLModel's `__setattr__` hands every assignment to SQLAlchemy (its change tracking) and then
again to pydantic's, after asking whether the class is a table model and the attribute an
instrumented one; each is a pass through several functions, and a command assigns dozens (a
status change, a new row's every column). For a mapped column this does what that pair of
steps amounts to for radflow's models (no validation on assignment, no frozen fields): the
change goes to SQLAlchemy, which keeps the value in the instance's `__dict__`, and pydantic's
record of the fields set is kept. Anything else takes SQLModel's way.

A new row is built the way SQLModel builds a table model (no validation: each field given is
assigned, each other field with a default gets it, a required one left out stays unset, the
given names are the fields set), with what it looks up per field (its alias, whether it is
required, its default) found once per model instead of on every construction. A mapped
column's value goes straight into the instance's `__dict__`, where SQLAlchemy keeps it: the
row is transient while it is built, and what an assignment adds besides the value (the
record of what changed since the row was loaded, for an UPDATE) means nothing for a row never
loaded: its INSERT, by the flush or by Core (domain/sql_repositories.py), writes the values
in `__dict__`, and the row is then committed as loaded. Its later assignments are tracked.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm.attributes import set_attribute
from sqlmodel import SQLModel


@cache
def _columns(model: type[SQLModel]) -> frozenset[str]:
    """The model's attributes that are both mapped columns and pydantic fields."""
    mapped = {attribute.key for attribute in sa.inspect(model).column_attrs}
    return frozenset(mapped & set(model.model_fields))


# Defaults of these types are used as they are (pydantic copies any other default per row).
_IMMUTABLE = (type(None), bool, int, float, str, Decimal, date, datetime, Enum)

# A field's default, read per row: (None, producer) where pydantic computes it each time
# (a factory, a mutable value), (value, None) where it is one immutable value.
_Default = tuple[Any, Callable[[], Any] | None]


@cache
def _fields(model: type[SQLModel]) -> tuple[tuple[str, _Default | None], ...] | None:
    """Per field of a table model: its name and its default (None: required), the order and
    answers of SQLModel's construction; None for a model whose construction does more (not a
    table, a field with an alias, a post-init hook), which SQLModel builds."""
    if not model.model_config.get("table", False) or model.__pydantic_post_init__:
        return None
    fields: list[tuple[str, _Default | None]] = []
    for name, field in model.model_fields.items():
        if field.alias is not None and field.alias != name:
            return None
        if field.is_required():
            fields.append((name, None))
        elif field.default_factory is None and isinstance(field.default, _IMMUTABLE):
            fields.append((name, (field.default, None)))
        else:

            def produce(field: Any = field) -> Any:
                return field.get_default(call_default_factory=True)

            fields.append((name, (None, produce)))
    return tuple(fields)


class Row(SQLModel):
    """A table model's base (SQLModel's, with a leaner construction and assignment to a
    mapped column)."""

    def __init__(self, **data: Any) -> None:
        model = type(self)
        fields = _fields(model)
        # No values: SQLModel's own (its validation builds a row this way, then fills it).
        if not data or fields is None:
            super().__init__(**data)
            return
        columns = _columns(model)
        values = self.__dict__
        for name, default in fields:
            if name in data:
                value = data[name]
            elif default is None:
                continue
            else:
                value, produce = default
                if produce is not None:
                    value = produce()
            if name in columns:
                values[name] = value
            else:
                setattr(self, name, value)
        given = set(data).intersection(model.model_fields)
        object.__setattr__(self, "__pydantic_fields_set__", given)

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _columns(type(self)):
            set_attribute(self, name, value)
            self.__pydantic_fields_set__.add(name)
            return
        super().__setattr__(name, value)
