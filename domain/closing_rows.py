"""A command's closing rows: its history, its audit record and its outbox events, inserted
after its own changes, just before the COMMIT.

Nearly every command writes to all three tables. On PostgreSQL each statement is a round trip
and a plan, so there the three go as one statement: the history and audit INSERTs as
data-modifying CTEs of the outbox's INSERT, which takes the ordering lock as it did alone
(domain/outbox.py), so that nothing but the COMMIT follows it. Measured by bench.statements,
a lifecycle mutation's statements fell from 6.5 to 4.92. SQLite has no data-modifying CTEs:
there they go one statement per table, as a command with more rows than `TOGETHER` does
everywhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

import sqlalchemy as sa

from domain.audit import AUDIT_COLUMNS, insert_records
from domain.history import HISTORY_COLUMNS, insert_history
from domain.outbox import insert_outbox, insert_under_lock
from domain.prepared import PreparedStatement
from domain.tables import AUDIT_EVENTS, EXAM_HISTORY

# Rows per table that go in one statement (a command writes one record, one or two history
# rows and one to three events); each shape is compiled once, so they stay few.
TOGETHER = 4

Rows = Sequence[dict[str, Any]]


def write_closing_rows(
    connection: sa.Connection, history: Rows, records: Rows, events: Rows
) -> None:
    """Insert a command's history rows, audit records and outbox rows in its transaction,
    the outbox's last."""
    shape = (len(history), len(records), len(events))
    if (
        connection.dialect.name == "postgresql"
        and max(shape) <= TOGETHER
        and sum(1 for n in shape if n) > 1
    ):
        values: dict[str, Any] = {}
        for prefix, rows in (("h", history), ("a", records), ("o", events)):
            for i, row in enumerate(rows):
                for name, value in row.items():
                    values[f"{prefix}{i}_{name}"] = value
        _together(*shape).execute(connection, [values])
        return
    if history:
        insert_history(connection, history)
    if records:
        insert_records(connection, records)
    if events:
        insert_outbox(connection, events)


def _values(table: sa.Table, columns: Sequence[str], prefix: str, rows: int) -> sa.Insert:
    """A multi-row INSERT into `table` whose parameters are `{prefix}{row}_{column}`."""
    return sa.insert(table).values(
        [
            {c: sa.bindparam(f"{prefix}{i}_{c}", type_=table.c[c].type) for c in columns}
            for i in range(rows)
        ]
    )


@cache
def _together(history: int, records: int, events: int) -> PreparedStatement:
    """PostgreSQL's one statement for that many rows of each table."""
    inserts = [
        _values(table, columns, prefix, rows)
        for table, columns, prefix, rows in (
            (EXAM_HISTORY, HISTORY_COLUMNS, "h", history),
            (AUDIT_EVENTS, AUDIT_COLUMNS, "a", records),
        )
        if rows
    ]
    main = insert_under_lock(events, prefix="o") if events else inserts.pop()
    ctes = [insert.cte(f"closing_{n}") for n, insert in enumerate(inserts)]
    return PreparedStatement(main.add_cte(*ctes), None)
