"""Turn a command's domain events into outbox rows, written in the command's transaction.

Each row carries the keys subscriptions filter on (`topic`, exam, site, modality, status,
radiologists) next to the event's own fields (`payload`), so a replay can filter in SQL and a
subscriber never needs to read the changed tables to know whether an event is for it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from datetime import datetime
from enum import Enum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from domain import events as ev
from domain.enums import Modality
from domain.loaded_rows import key_of
from domain.models._columns import core_table
from domain.models.catalog import Procedure
from domain.models.exam import Exam
from domain.models.outbox import OutboxEvent
from domain.prepared import PreparedStatement
from domain.tables import EXAMS, PROCEDURES

# The subscription families; an event belongs to exactly one.
EXAM_STATUS = "exam_status"
WORKLIST = "worklist"
CRITICAL_RESULT = "critical_result"
BALANCER = "balancer"
RULES = "rules"
OTHER = "other"

# On PostgreSQL every event-writing transaction takes this transaction-scoped advisory lock
# just before it inserts its outbox rows, and holds it until it commits. Ids are drawn from the
# sequence under the lock, so rows commit in id order: a reader that has seen id N will never
# later see a committed row below N, which is what lets the relay and resumed subscriptions
# read "everything after N" without ever skipping a slow transaction's events.
OUTBOX_LOCK_KEY = 0x72_61_64_66_6C_6F_77  # "radflow"


def topic_of(event: ev.DomainEvent) -> str:
    """The subscription family an event belongs to."""
    return topic_of_type(type(event))


# Per event class, filled as classes are first met (a class's family and fields never change).
_TOPICS: dict[type[ev.DomainEvent], str] = {}
_FIELD_NAMES: dict[type[ev.DomainEvent], tuple[str, ...]] = {}


def topic_of_type(kind: type[ev.DomainEvent]) -> str:
    """The subscription family of every event of this class."""
    topic = _TOPICS.get(kind)
    if topic is None:
        topic = _TOPICS[kind] = _family(kind)
    return topic


def _family(kind: type[ev.DomainEvent]) -> str:
    if issubclass(kind, ev.ExamStatusChanged):
        return EXAM_STATUS
    if issubclass(kind, ev.AssignmentChanged | ev.WorklistReordered | ev.ReadStranded):
        return WORKLIST
    if issubclass(kind, ev.CriticalResultRaised | ev.CriticalResultEscalated):
        return CRITICAL_RESULT
    if issubclass(kind, ev.BalancerRan):
        return BALANCER
    if issubclass(kind, ev.RuleSetActivated):
        return RULES
    return OTHER


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


def payload_of(event: ev.DomainEvent) -> dict[str, Any]:
    """The event's fields as JSON-ready data (enums by value, times in ISO 8601)."""
    kind = type(event)
    names = _FIELD_NAMES.get(kind)
    if names is None:
        names = _FIELD_NAMES[kind] = tuple(f.name for f in dataclasses.fields(kind))
    return {name: _plain(getattr(event, name)) for name in names}


def _radiologists(event: ev.DomainEvent) -> list[int]:
    if isinstance(event, ev.AssignmentChanged):
        ids = (event.radiologist_id, event.previous_radiologist_id)
        return sorted({i for i in ids if i is not None})
    if isinstance(event, ev.WorklistReordered):
        return sorted(set(event.radiologist_ids))
    if isinstance(event, ev.ReadStranded):
        return [event.radiologist_id]
    return []


def outbox_rows(
    session: Session,
    events: Sequence[ev.DomainEvent],
    modalities: Mapping[int, Modality] | None = None,
) -> list[dict[str, Any]]:
    """One outbox row (as column values) per event, with its subscription keys filled in
    (`modalities`: procedures whose modality the command already read, by id)."""
    exam_ids = {
        e.exam_id
        for e in events
        if topic_of(e) in (EXAM_STATUS, CRITICAL_RESULT) and hasattr(e, "exam_id")
    }
    # site, modality and the version the command left the exam at, per exam
    where: dict[int, tuple[int, str, int]] = {}
    for exam_id in list(exam_ids):  # the command has usually loaded the exam
        exam = session.identity_map.get(key_of(Exam, exam_id))
        if not isinstance(exam, Exam):
            continue
        # The procedure the exam has now: one the command loaded (an order changed to it),
        # else the modality read with the exam.
        procedure = session.identity_map.get(key_of(Procedure, exam.procedure_id))
        known = (
            procedure.modality
            if isinstance(procedure, Procedure)
            else (modalities or {}).get(exam.procedure_id)
        )
        if known is not None:
            where[exam_id] = (exam.site_id, str(known.value), exam.version)
            exam_ids.discard(exam_id)
    if exam_ids:  # one statement for the site and modality of the other exams
        found = session.execute(
            sa.select(EXAMS.c.id, EXAMS.c.site_id, PROCEDURES.c.modality, EXAMS.c.version)
            .join(PROCEDURES, PROCEDURES.c.id == EXAMS.c.procedure_id)
            .where(EXAMS.c.id.in_(exam_ids))
        )
        where |= {row[0]: (row[1], str(row[2].value), row[3]) for row in found}
    rows = []
    for event in events:
        exam_id = getattr(event, "exam_id", None)
        site_id, modality, version = (
            where.get(exam_id, (None, None, None)) if exam_id is not None else (None, None, None)
        )
        status = event.to_status.value if isinstance(event, ev.ExamStatusChanged) else None
        payload = payload_of(event)
        if version is not None:
            # The exam as the event left it: a replay shows then, not now.
            payload["exam_version"] = version
        rows.append(
            {
                "occurred_at": event.at,
                "type": event.event_type,
                "topic": topic_of(event),
                "exam_id": exam_id,
                "site_id": getattr(event, "site_id", None) or site_id,
                "modality": modality,
                "status": status,
                "radiologist_ids": _radiologists(event),
                "payload": payload,
            }
        )
    return rows


# Core, built once: the ORM's bulk insert costs more than the rows (and splits them by which
# values are None).
_TABLE = core_table(OutboxEvent)
_COLUMNS = (
    "occurred_at",
    "type",
    "topic",
    "exam_id",
    "site_id",
    "modality",
    "status",
    "radiologist_ids",
    "payload",
)
_ROW_COLUMNS = [_TABLE.c[name] for name in _COLUMNS]
_INSERT = PreparedStatement(sa.insert(_TABLE), _COLUMNS)


def insert_under_lock(rows: int = 1, prefix: str | None = None) -> sa.Insert:
    """PostgreSQL's INSERT of `rows` outbox rows that first takes the ordering lock, in the
    same statement (one round trip instead of two). Every row the SELECT yields needs the
    lock's row first, and each id is drawn from the sequence as its row is inserted: under the
    lock, as before. (The lock is re-entrant within a transaction: a second statement takes it
    again.) Parameters are named by column, or with `prefix` as `{prefix}{row}_{column}`."""
    lock = sa.select(
        sa.func.pg_advisory_xact_lock(sa.literal_column(str(OUTBOX_LOCK_KEY))).label("taken")
    ).cte("outbox_lock")

    def named(row: int, column: sa.Column[Any]) -> str:
        return column.name if prefix is None else f"{prefix}{row}_{column.name}"

    selects = [
        sa.select(*(sa.bindparam(named(i, c), type_=c.type) for c in _ROW_COLUMNS)).select_from(
            lock
        )
        for i in range(rows)
    ]
    source = selects[0] if rows == 1 else sa.union_all(*selects)
    return sa.insert(_TABLE).from_select([c.name for c in _ROW_COLUMNS], source)


_INSERT_UNDER_LOCK = PreparedStatement(insert_under_lock(), _COLUMNS)


def insert_outbox(connection: sa.Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Insert outbox rows (`outbox_rows`) in the connection's transaction (on PostgreSQL under
    the ordering lock)."""
    if connection.dialect.name == "postgresql":
        _INSERT_UNDER_LOCK.execute(connection, rows)
    else:
        _INSERT.execute(connection, rows)
