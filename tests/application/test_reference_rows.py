"""Catalogue rows are read once per process and kept between commands (domain/reference_rows.py),
yet a change is never missed for longer than the cache allows."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy import event
from sqlmodel import col

from domain.db import Database, UnitOfWork
from domain.models import ModalityResource, Site
from domain.reference_rows import ReferenceRows
from tests.factories import reference


@contextmanager
def statements(db: Database) -> Iterator[list[str]]:
    engine = db.sync_engine or db.async_engine.sync_engine  # type: ignore[union-attr]
    seen: list[str] = []

    def record(_connection: object, _cursor: object, statement: str, *_: object) -> None:
        seen.append(" ".join(statement.split()))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def scanner_site_name(uow: UnitOfWork) -> str:
    scanner = uow.department.find(ModalityResource, "code", "CT1")
    assert scanner is not None
    site = uow.department.get(Site, scanner.site_id)
    assert site is not None
    return site.name


def reads_of(seen: list[str], table: str) -> int:
    return sum(1 for s in seen if s.startswith("SELECT") and f"FROM {table} " in f"{s} ")


async def test_a_catalogue_row_read_by_one_command_is_not_read_again_by_the_next(
    db: Database,
) -> None:
    await reference(db)
    with statements(db) as seen:
        first = await db.run(scanner_site_name)
        second = await db.run(scanner_site_name)
    assert first == second
    assert reads_of(seen, "modality_resources") == 1
    assert reads_of(seen, "sites") == 1


async def test_a_catalogue_row_a_command_changes_is_read_afresh_by_the_next(db: Database) -> None:
    await reference(db)
    before = await db.run(scanner_site_name)

    def rename(uow: UnitOfWork) -> None:
        # Within the writer's own transaction too, the kept row is no longer answered.
        site = uow.session.scalars(sa.select(Site).where(col(Site.code) == "MAIN")).one()
        site.name = "Main campus, renamed"
        uow.flush()
        assert scanner_site_name(uow) == "Main campus, renamed"

    await db.run(rename)
    assert before != "Main campus, renamed"
    assert await db.run(scanner_site_name) == "Main campus, renamed"


async def test_a_kept_row_is_handed_out_as_a_copy_no_session_holds(db: Database) -> None:
    await reference(db)

    def scanner(uow: UnitOfWork) -> ModalityResource:
        found = uow.department.find(ModalityResource, "code", "CT1")
        assert found is not None
        assert found not in uow.session
        return found

    assert sa.inspect(await db.run(scanner)).transient


def test_kept_answers_are_dropped_once_older_than_their_maximum_age() -> None:
    now = [0.0]
    rows = ReferenceRows(max_age=60.0, clock=lambda: now[0])
    asked: list[str] = []

    def ask(answer: str) -> str:
        asked.append(answer)
        return answer

    assert rows.answer("scanner", lambda: ask("first")) == "first"
    now[0] = 59.0
    assert rows.answer("scanner", lambda: ask("second")) == "first"
    now[0] = 60.5
    assert rows.answer("scanner", lambda: ask("third")) == "third"
    assert asked == ["first", "third"]


def test_a_lookup_that_found_nothing_is_asked_again() -> None:
    rows = ReferenceRows()
    answers = iter([None, (), "found"])
    assert rows.answer("scanner", lambda: next(answers)) is None
    assert rows.answer("scanner", lambda: next(answers)) == ()
    assert rows.answer("scanner", lambda: next(answers)) == "found"
    assert rows.answer("scanner", lambda: "not asked") == "found"
