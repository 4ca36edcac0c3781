"""The leader's CP-SAT neighbourhood search between events (balancer.lns in the runner): it
improves a plan with no event, yields to an event at once, and its commit is fenced."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlmodel import col

from application.planning.leadership import Deposed, elect, leadership_for
from application.planning.runner import BalancerRunner, SearchPolicy
from domain.db import Database
from domain.enums import ExamStatus, Priority
from domain.models import BalancerRun, Radiologist, Read
from domain.services import worklists
from tests.factories import SUPERVISOR, drive, order, reference

STUDIES = 16
# Cycles back to back (the tests wait on what the search does, never on a duration).
EAGER = SearchPolicy(seconds=0.5, round_seconds=0.2, quiet_seconds=0.05, idle_seconds=0.05)


async def until(condition: Callable[[], bool], what: str, seconds: float = 60.0) -> None:
    for _ in range(int(seconds / 0.02)):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"never: {what}")


async def department(db: Database) -> list[int]:
    """RAD03 and RAD07 on shift (both read BODY at NORTH) and urgent NORTH ultrasounds."""
    await reference(db)  # RAD03 is on shift
    ids = []
    for _ in range(STUDIES):
        exam = await drive(db, await order(db, priority=Priority.URGENT), ExamStatus.READY_FOR_READ)
        assert exam.id is not None
        ids.append(exam.id)
    await db.run(  # the test clock moves with each command: a shift long enough for them all
        lambda uow: worklists.start_shift(
            uow=uow,
            actor=SUPERVISOR,
            radiologist_code="RAD07",
            site_code="NORTH",
            ends_at=uow.now + timedelta(hours=23),
        )
    )
    return ids


async def reader_id(db: Database, code: str) -> int:
    rid = await db.read(
        lambda s: s.scalar(sa.select(col(Radiologist.id)).where(col(Radiologist.code) == code))
    )
    assert rid is not None
    return int(rid)


async def pile_on(db: Database, rid: int) -> None:
    """Every current read onto one reader behind the balancer's back: no event, so only the
    search can notice that the plan has become bad."""

    def run(session: Session) -> None:
        session.execute(
            sa.update(Read).where(col(Read.ended_at).is_(None)).values(radiologist_id=rid)
        )
        session.commit()

    await db.read(run)


async def holding(db: Database) -> dict[int, int]:
    """Current reads per reader."""
    rows = await db.read(
        lambda s: s.execute(
            sa.select(col(Read.radiologist_id), sa.func.count())
            .where(col(Read.ended_at).is_(None))
            .group_by(col(Read.radiologist_id))
        ).all()
    )
    return {int(r): int(n) for r, n in rows}


async def runs(db: Database) -> list[tuple[str, str]]:
    """(trigger, formulation) of every committed run, oldest first."""
    rows = await db.read(
        lambda s: s.execute(
            sa.select(col(BalancerRun.trigger), col(BalancerRun.formulation)).order_by(
                col(BalancerRun.id)
            )
        ).all()
    )
    return [(str(t), str(f)) for t, f in rows]


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)
async def test_the_live_loop_improves_a_bad_plan_with_no_event(db: Database) -> None:
    await department(db)
    rad03, rad07 = await reader_id(db, "RAD03"), await reader_id(db, "RAD07")
    runner = BalancerRunner(db, tick_seconds=3600, search=EAGER)
    runner.start()
    try:
        await until(lambda: runner.search_stats.cycles >= 1, "a first search cycle")
        await pile_on(db, rad03)
        assert await holding(db) == {rad03: STUDIES}
        before = runner.search_stats.improvements
        committed = len(await runs(db))
        await until(lambda: runner.search_stats.improvements > before, "a committed search")
        held = await holding(db)
        assert held.get(rad07, 0) > 0 and sum(held.values()) == STUDIES
        after = (await runs(db))[committed:]
        # Nothing but the search ran: no event, no tick.
        assert after and all(t.startswith("search:") and "lns" in f for t, f in after)
        stats = runner.search_stats
        assert stats.won > 0 and stats.rounds >= stats.improvements
    finally:
        await runner.stop()


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_an_event_during_the_search_is_re_planned_at_once(db: Database) -> None:
    await department(db)
    # A cycle far longer than the test may wait: only a search that yields lets the event in.
    long = SearchPolicy(seconds=600, round_seconds=0.2, quiet_seconds=0.05, idle_seconds=600)
    runner = BalancerRunner(db, tick_seconds=3600, search=long)
    runner.start()
    try:
        await until(lambda: runner.searching, "the search running")
        exam = await drive(db, await order(db), ExamStatus.READY_FOR_READ)
        await until(lambda: runner.search_stats.yielded == 1, "the search yielding", 60)
        await until(
            lambda: runner.last is not None and "StudyReadyForRead" in runner.last.trigger,
            f"the event's re-plan (last: {runner.last and runner.last.trigger})",
            60,
        )
        assert exam.id is not None
        assert exam.id in (await holding_exams(db))
        assert runner.search_stats.improvements == 0  # the yielded cycle committed nothing
    finally:
        await runner.stop()


async def holding_exams(db: Database) -> set[int]:
    rows = await db.read(
        lambda s: s.scalars(sa.select(col(Read.exam_id)).where(col(Read.ended_at).is_(None)))
    )
    return {int(e) for e in rows}


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)
async def test_a_search_commit_under_a_superseded_epoch_is_refused(db: Database) -> None:
    await department(db)
    rad03 = await reader_id(db, "RAD03")
    leadership = leadership_for(db, replica="replica-a", poll_seconds=60, lease_seconds=60)
    runner = BalancerRunner(db, leadership=leadership, search=EAGER)
    try:
        await leadership.start()
        await until(lambda: leadership.leading, "replica a elected")
        await runner.run_once("placing the studies")
        await pile_on(db, rad03)
        before = (await runs(db), await holding(db))

        def steal(session: Session) -> int:
            epoch = elect(session.connection(), "replica-b", db.clock())
            session.commit()
            return epoch

        assert await db.read(steal) == 2
        with pytest.raises(Deposed):
            await runner.search_once()  # it found the better plan, and may not commit it
        assert (await runs(db), await holding(db)) == before
        assert not leadership.leading
    finally:
        await runner.stop()
        await leadership.stop()
