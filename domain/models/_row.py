"""The base of every table model: SQLModel's, with a leaner assignment to a column.

SQLModel's `__setattr__` hands every assignment to SQLAlchemy (its change tracking) and then
again to pydantic's, after asking whether the class is a table model and the attribute an
instrumented one; each is a pass through several functions, and a command assigns dozens (a
status change, a new row's every column). For a mapped column this does what that pair of
steps amounts to for radflow's models (no validation on assignment, no frozen fields): the
change goes to SQLAlchemy, which keeps the value in the instance's `__dict__`, and pydantic's
record of the fields set is kept. Anything else takes SQLModel's way.
"""

from __future__ import annotations

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


class Row(SQLModel):
    """A table model's base (SQLModel's, with a leaner assignment to a mapped column)."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _columns(type(self)):
            set_attribute(self, name, value)
            self.__pydantic_fields_set__.add(name)
            return
        super().__setattr__(name, value)
