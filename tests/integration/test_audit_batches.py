"""Audit records of concurrent requests are committed together, and each request still gets
its own record, written before it returns, or an error."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa

from domain import audit
from domain.db import Database
from domain.enums import Role
from domain.lifecycle import Actor
from domain.models import AuditEvent
from tests.factories import order, reference

pytestmark = pytest.mark.usefixtures("backend")


def trail(name: str, exam_id: int) -> audit.Trail:
    found = audit.Trail(
        actor=Actor("sup.ortiz", Role.SUPERVISOR),
        client_address="10.0.0.9",
        operation=f"query {name}",
        action=audit.AuditAction.READ,
    )
    found.exam_ids.add(exam_id)  # the patient is looked up in the batch's transaction
    return found


async def operations(db: Database) -> list[tuple[str, list[str]]]:
    rows = await db.read(lambda s: list(s.scalars(sa.select(AuditEvent).order_by(AuditEvent.id))))  # type: ignore[arg-type]
    return [(r.operation, list(r.patient_mrns)) for r in rows]


async def test_concurrent_records_share_transactions_and_each_is_written(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    await reference(db)
    exam = await order(db)
    assert exam.id is not None
    batches: list[int] = []
    original = audit.write_records

    def counting(connection: sa.Connection, trails: list[tuple[audit.Trail, object]]) -> None:
        batches.append(len(trails))
        original(connection, trails)  # type: ignore[arg-type]

    monkeypatch.setattr("domain.db.write_records", counting)
    await asyncio.gather(*(db.write_audit(trail(f"Q{n}", exam.id)) for n in range(20)))
    assert sorted(await operations(db)) == sorted((f"query Q{n}", ["MRN000001"]) for n in range(20))
    assert sum(batches) == 20 and max(batches) > 1  # committed together, not one by one


async def test_one_failing_record_fails_only_its_own_request(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    await reference(db)
    exam = await order(db)
    assert exam.id is not None
    original = audit.record_values

    def failing(connection: sa.Connection, t: audit.Trail, now: object) -> dict[str, object]:
        if t.operation == "query Bad":
            raise RuntimeError("this record cannot be written")
        return original(connection, t, now)  # type: ignore[arg-type]

    monkeypatch.setattr(audit, "record_values", failing)
    results = await asyncio.gather(
        *(db.write_audit(trail(name, exam.id)) for name in ("A", "Bad", "B")),
        return_exceptions=True,
    )
    assert results[0] is None and results[2] is None
    assert isinstance(results[1], RuntimeError)
    assert sorted(await operations(db)) == [("query A", ["MRN000001"]), ("query B", ["MRN000001"])]
