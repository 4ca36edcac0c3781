"""Statements every command sends (its exam's UPDATE; its history, audit and outbox rows),
compiled once.

Every command ends with the same few statements, whose parameters are plain values. Sent as
Core statements, each paid SQLAlchemy's whole execution path again: the statement's cache
key, its parameters constructed from the compiled form, the result set up; together more
than the rest of the statement's work. A `PreparedStatement` compiles once per dialect,
keeps the compiled SQL, the order of its parameters and their types' bind processors, and
sends each row with `Connection.exec_driver_sql`: the values processed exactly as the Core
statement would process them (the same processors), the statement seen by the engine's
events (echo, statement counts) like any other.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    # The parameters' values of a row, in the statement's order (`operator.itemgetter`)
    values: Callable[[Mapping[str, Any]], Any]
    # (position, processor) of the parameters whose type processes them
    processed: tuple[tuple[int, Callable[[Any], Any]], ...]

    def parameters(self, row: Mapping[str, Any]) -> tuple[Any, ...]:
        values = self.values(row)
        if not self.processed:
            return tuple(values)
        listed = list(values)
        for position, process in self.processed:
            listed[position] = process(listed[position])
        return tuple(listed)


_NOT_POSITIONAL = _Compiled("", dict, ())  # a driver with named parameters: sent as Core


def _values_of(names: tuple[str, ...]) -> Callable[[Mapping[str, Any]], tuple[Any, ...]]:
    """A row's values of `names`, as a tuple in their order."""
    if len(names) > 1:
        return itemgetter(*names)  # of several names, itemgetter answers a tuple
    (name,) = names

    def one(row: Mapping[str, Any]) -> tuple[Any, ...]:
        return (row[name],)

    return one


class PreparedStatement:
    """A statement whose parameters are named values, compiled per dialect.

    `names` are the parameters every execution gives; an INSERT without its own values
    (`sa.insert(table)`) takes them as its columns. Every parameter the statement compiles to
    must be one of them."""

    def __init__(self, statement: sa.Insert | sa.Update, names: Sequence[str]) -> None:
        self._statement = statement
        self._columns = list(names)
        self._compiled: dict[str, _Compiled] = {}

    def _for(self, dialect: Dialect) -> _Compiled:
        compiled = self._compiled.get(dialect.name)
        if compiled is None:
            compiled = self._compiled[dialect.name] = self._compile(dialect)
        return compiled

    def _compile(self, dialect: Dialect) -> _Compiled:
        keys = self._columns if isinstance(self._statement, sa.Insert) else None
        form = self._statement.compile(dialect=dialect, column_keys=keys)
        if not form.positional:
            return _NOT_POSITIONAL
        names = tuple(form.positiontup or ())
        if not names or set(names) - set(self._columns):
            raise ValueError(f"cannot prepare {form.string!r}: parameters {names}")
        processors = [
            form.binds[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names
        ]
        processed = tuple((i, p) for i, p in enumerate(processors) if p is not None)
        return _Compiled(form.string, _values_of(names), processed)

    def execute(
        self, connection: sa.Connection, rows: Sequence[Mapping[str, Any]]
    ) -> sa.CursorResult[Any]:
        """Run the statement with each of `rows`' parameters (one statement; several rows go
        as one executemany)."""
        if not rows:
            raise ValueError("nothing to execute")
        compiled = self._for(connection.dialect)
        if compiled is _NOT_POSITIONAL:
            return connection.execute(self._statement, list(rows))
        if len(rows) == 1:
            return connection.exec_driver_sql(compiled.sql, compiled.parameters(rows[0]))
        return connection.exec_driver_sql(compiled.sql, [compiled.parameters(r) for r in rows])
