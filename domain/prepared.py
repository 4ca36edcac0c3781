"""Statements every command sends (its exam's read and UPDATE; its history, audit and outbox
rows), compiled once and handed to the driver.

Every command reads its exam and ends with the same few statements, whose parameters are
plain values. Sent as Core statements, each paid SQLAlchemy's whole execution path again: the
statement's cache key, its parameters constructed from the compiled form, an execution
context, the result set up; together more than the driver's own work. A `PreparedStatement`
compiles once per dialect, keeps the compiled SQL, the order of its parameters and their
types' bind processors, and sends each execution to the driver's cursor in the transaction
the connection has begun: the values processed exactly as the Core statement would process
them (the same processors), the rows it returns processed by their columns' result
processors as a Core result would, and a driver error raised through the connection's own
handling (the same `sqlalchemy.exc` error, a lost connection invalidated).

When something watches the engine's statements (echo, or a listener of the statement events:
the statement counts of bench.statements and of tests), or no transaction is begun, the
statement goes through SQLAlchemy's execution instead, as the Core statement it was built
from, seen like any other.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from operator import itemgetter
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Dialect


class Answer(Protocol):
    """What an execution answers: a Core result, or the rows a driver's cursor returned."""

    @property
    def rowcount(self) -> int: ...

    def first(self) -> Sequence[Any] | None: ...

    def scalar_one(self) -> Any: ...

    def one(self) -> Sequence[Any]: ...

    def all(self) -> Sequence[Sequence[Any]]: ...

    def __iter__(self) -> Iterator[Sequence[Any]]: ...


@dataclass(frozen=True, slots=True)
class Sent:
    """The answer of a statement sent to the driver: its row count, and its rows processed."""

    rowcount: int
    rows: list[tuple[Any, ...]] = field(default_factory=list)

    def first(self) -> tuple[Any, ...] | None:
        return self.rows[0] if self.rows else None

    def scalar_one(self) -> Any:
        return self.one()[0]

    def one(self) -> tuple[Any, ...]:
        if not self.rows:
            raise sa.exc.NoResultFound("no row was found when one was required")
        if len(self.rows) > 1:
            raise sa.exc.MultipleResultsFound("multiple rows were found when one was required")
        return self.rows[0]

    def all(self) -> list[tuple[Any, ...]]:
        return self.rows

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        return iter(self.rows)


Processors = tuple[tuple[int, Callable[[Any], Any]], ...]


@dataclass(slots=True)
class _Compiled:
    sql: str
    # The parameters' values of a row, in the statement's order (`operator.itemgetter`)
    values: Callable[[Mapping[str, Any]], Any]
    # (position, processor) of the parameters whose type processes them
    processed: Processors
    # The types of the columns the statement returns (none for a plain INSERT or UPDATE)
    returned: tuple[sa.types.TypeEngine[Any], ...] = ()
    # (position, processor) of the returned columns whose type processes them, found from
    # the driver's description of the first rows (a processor may depend on it)
    results: Processors | None = None

    def parameters(self, row: Mapping[str, Any]) -> tuple[Any, ...]:
        values = self.values(row)
        if len(self.processed) == 0:
            return values if isinstance(values, tuple) else tuple(values)
        listed = list(values)
        for position, process in self.processed:
            listed[position] = process(listed[position])
        return tuple(listed)

    def rows(self, dialect: Dialect, cursor: Any) -> list[tuple[Any, ...]]:
        fetched: list[tuple[Any, ...]] = cursor.fetchall()
        if self.results is None:
            self.results = _result_processors(dialect, self.returned, cursor.description)
        if not self.results or not fetched:
            return [tuple(row) for row in fetched]
        processed = []
        for row in fetched:
            listed = list(row)
            for position, process in self.results:
                listed[position] = process(listed[position])
            processed.append(tuple(listed))
        return processed


def _result_processors(
    dialect: Dialect, types: Sequence[sa.types.TypeEngine[Any]], description: Any
) -> Processors:
    found = []
    for position, (type_, described) in enumerate(zip(types, description or (), strict=False)):
        process = type_.dialect_impl(dialect).result_processor(dialect, described[1])
        if process is not None:
            found.append((position, process))
    return tuple(found)


# Sent as Core: a driver with named parameters, or parameters that expand (an IN list) or
# compute their value as the statement runs
_NOT_POSITIONAL = _Compiled("", dict, ())


_GIVEN = object()  # a parameter every execution gives


def _values_of(
    names: tuple[str, ...], bound: Mapping[str, Any]
) -> Callable[[Mapping[str, Any]], tuple[Any, ...]]:
    """A row's values of `names`, as a tuple in their order; a parameter the statement bound a
    value to (`bound`) takes that value unless the row gives one."""
    if bound:
        spec = tuple((name, bound.get(name, _GIVEN)) for name in names)

        def some_bound(row: Mapping[str, Any]) -> tuple[Any, ...]:
            return tuple(row[n] if v is _GIVEN else row.get(n, v) for n, v in spec)

        return some_bound
    if len(names) > 1:
        return itemgetter(*names)  # of several names, itemgetter answers a tuple
    (name,) = names

    def one(row: Mapping[str, Any]) -> tuple[Any, ...]:
        return (row[name],)

    return one


# The connection last found unwatched, with the transaction it was found in: a command asks
# for each of its statements, and the answer holds for the transaction (echo or a listener
# set while one is open is seen from the connection's next transaction on). The transaction
# is held, so no later one can take its identity.
_unwatched: tuple[sa.Connection, object] | None = None


def _watched(connection: sa.Connection) -> bool:
    """Whether the engine's statements are echoed or listened to, or no transaction is
    begun: then a statement goes through SQLAlchemy's execution, seen like any other."""
    global _unwatched
    kept = _unwatched
    if kept is not None and kept[0] is connection:
        transaction = connection._transaction
        if transaction is kept[1] and transaction is not None and transaction.is_active:
            return False
    if connection._echo or not connection.in_transaction():
        return True
    events = connection.dispatch
    if (
        events.before_cursor_execute
        or events.after_cursor_execute
        or events.before_execute
        or events.after_execute
    ):
        return True
    _unwatched = (connection, connection._transaction)
    return False


Statement = sa.Insert | sa.Update | sa.Select[Any]


class PreparedStatement:
    """A statement whose parameters are named values, compiled per dialect.

    `names` are the parameters every execution gives; an INSERT without its own values
    (`sa.insert(table)`) takes them as its columns. Every parameter the statement compiles to
    must be one of them, or have a value bound in the statement. `names=None`: the
    statement's own parameters, each given at execution unless it has a value bound. A
    statement whose parameters expand at execution (an IN list) is sent as Core."""

    def __init__(self, statement: Statement, names: Sequence[str] | None) -> None:
        self._statement = statement
        self._columns = None if names is None else list(names)
        self._compiled: dict[str, _Compiled] = {}

    def _for(self, dialect: Dialect) -> _Compiled:
        compiled = self._compiled.get(dialect.name)
        if compiled is None:
            compiled = self._compiled[dialect.name] = self._compile(dialect)
        return compiled

    def _compile(self, dialect: Dialect) -> _Compiled:
        keys = self._columns if isinstance(self._statement, sa.Insert) else None
        form = self._statement.compile(dialect=dialect, column_keys=keys)
        if not form.positional or form.literal_execute_params or form.post_compile_params:
            return _NOT_POSITIONAL
        names = tuple(form.positiontup or ())
        binds = [form.binds[name] for name in names]
        if any(b.callable is not None for b in binds):
            return _NOT_POSITIONAL  # a value computed as the statement runs

        bound = {
            name: b.effective_value for name, b in zip(names, binds, strict=True) if not b.required
        }
        given = set(names) - set(bound) if self._columns is None else set(self._columns)
        if not names or set(names) - given - set(bound):
            raise ValueError(f"cannot prepare {form.string!r}: parameters {names}")
        processors = [b.type.dialect_impl(dialect).bind_processor(dialect) for b in binds]
        processed = tuple((i, p) for i, p in enumerate(processors) if p is not None)
        returned = tuple(column.type for column in self._statement.exported_columns)
        return _Compiled(form.string, _values_of(names, bound), processed, returned)

    def execute(self, connection: sa.Connection, rows: Sequence[Mapping[str, Any]]) -> Answer:
        """Run the statement with each of `rows`' parameters (one statement; several rows go
        as one executemany)."""
        if not rows:
            raise ValueError("nothing to execute")
        compiled = self._for(connection.dialect)
        if compiled is _NOT_POSITIONAL or _watched(connection):
            return connection.execute(self._statement, list(rows))
        if len(rows) == 1:
            return _send(connection, compiled, compiled.parameters(rows[0]), many=False)
        return _send(connection, compiled, [compiled.parameters(r) for r in rows], many=True)


def _send(connection: sa.Connection, compiled: _Compiled, parameters: Any, *, many: bool) -> Sent:
    """Execute on the driver's cursor, in the connection's transaction; a driver error is
    raised as the connection raises it (wrapped, a lost connection invalidated)."""
    driver = connection.connection.dbapi_connection
    assert driver is not None  # a connection in a transaction holds its driver connection
    cursor = driver.cursor()
    try:
        if many:
            cursor.executemany(compiled.sql, parameters)
        else:
            cursor.execute(compiled.sql, parameters)
        rows = [] if cursor.description is None else compiled.rows(connection.dialect, cursor)
        return Sent(cursor.rowcount, rows)
    except Exception as error:
        connection._handle_dbapi_exception(error, compiled.sql, parameters, cursor, None)
    finally:
        cursor.close()


@cache
def prepared(statement: Statement) -> PreparedStatement:
    """The prepared form of a statement built once (a module's constant, or one a cached
    function built), with the statement's own parameters. Only for such statements: each
    statement given is kept for the life of the process."""
    return PreparedStatement(statement, None)
