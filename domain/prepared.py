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
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

Processor = Callable[[Any], Any] | None


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    names: tuple[str, ...]
    processors: tuple[Processor, ...]


_NOT_POSITIONAL = _Compiled("", (), ())  # a driver with named parameters: sent as Core


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
        processors = tuple(
            form.binds[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names
        )
        return _Compiled(form.string, names, processors)

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
        pairs = tuple(zip(compiled.names, compiled.processors, strict=True))
        values = [
            tuple(row[name] if process is None else process(row[name]) for name, process in pairs)
            for row in rows
        ]
        return connection.exec_driver_sql(compiled.sql, values[0] if len(values) == 1 else values)
