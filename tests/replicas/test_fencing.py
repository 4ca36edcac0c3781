"""Leadership and fencing in one process: a deposed leader's plan is refused, nothing written;
a lease that is not renewed, and a commit whose client stalls, end within one lease."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from application.planning.leadership import (
    Deposed,
    LeaseLeadership,
    NotLeader,
    check_epoch,
    elect,
    leadership_for,
    take_lease,
)
from application.planning.runner import BalancerRunner
from domain.db import Database
from domain.enums import ExamStatus
from domain.models import BalancerLeadership, BalancerRun, Read
from tests.factories import drive, order, reference


async def ready_study(db: Database) -> int:
    await reference(db)  # RAD03 is on shift and may read the study
    exam = await drive(db, await order(db), ExamStatus.READY_FOR_READ)
    assert exam.id is not None
    return exam.id


async def written(db: Database) -> tuple[int, int]:
    """(balancer runs, reads) in the database."""
    return await db.read(
        lambda s: (
            s.scalar(sa.select(sa.func.count()).select_from(BalancerRun)) or 0,
            s.scalar(sa.select(sa.func.count()).select_from(Read)) or 0,
        )
    )


async def steal(db: Database, replica: str) -> int:
    """Another replica's election, as it happens on its own connection."""

    def run(session: Session) -> int:
        epoch = elect(session.connection(), replica, db.clock())
        session.commit()
        return epoch

    return await db.read(run)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)
async def test_a_commit_under_a_superseded_epoch_is_refused_and_writes_nothing(
    db: Database,
) -> None:
    exam_id = await ready_study(db)
    # Sole leadership on SQLite, the lease on PostgreSQL (renewed only every 20 s, so it cannot
    # notice anything by itself during the test).
    leadership = leadership_for(db, replica="replica-a", poll_seconds=60, lease_seconds=60)
    runner = BalancerRunner(db, leadership=leadership)
    successor = leadership_for(db, replica="replica-b", poll_seconds=0.05)
    try:
        await leadership.start()
        await until(lambda: leadership.leading, "replica a elected")
        assert leadership.epoch == 1
        observed: list[str] = []
        runner.observers.append(lambda _seconds, outcome: observed.append(outcome))
        before = await written(db)
        assert await steal(db, "replica-b") == 2  # elected elsewhere meanwhile

        with pytest.raises(Deposed) as refused:
            await runner.run_once("late plan of the old leader")
        assert (refused.value.epoch, refused.value.current) == (1, 2)
        assert await written(db) == before  # no run row, no assignment
        assert not leadership.leading and observed == ["fenced"]

        await leadership.stop()  # (the stolen lease is free already: a stands aside)
        await successor.start()
        await until(lambda: successor.leading, "replica b elected")
        report = await BalancerRunner(db, leadership=successor).run_once("new leader")
        assert report.epoch == 3 and report.outcome.moved == 1
        run = await db.read(lambda s: s.get(BalancerRun, report.outcome.run_id))
        assert run is not None and (run.epoch, run.leader) == (3, "replica-b")
        reads = await db.read(lambda s: list(s.scalars(sa.select(Read))))
        assert [r.exam_id for r in reads] == [exam_id]
    finally:
        await runner.stop()
        await leadership.stop()
        await successor.stop()


async def lease_holder(db: Database) -> tuple[int | None, bool]:
    """The backend pid holding the lease, and whether the lease is still running."""
    row = await db.read(
        lambda s: s.execute(
            sa.text(
                "SELECT holder_pid, lease_expires_at > clock_timestamp() FROM balancer_leadership"
            )
        ).one()
    )
    return row[0], bool(row[1])


async def until(condition: Callable[[], bool], what: str) -> None:
    for _ in range(500):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"never: {what}")


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
async def test_one_leader_at_a_time_and_a_leader_whose_session_is_gone_is_fenced(
    db: Database,
) -> None:
    await ready_study(db)
    # A renews its lease only every 20 s: it will not notice losing it, which is exactly the
    # leader the fence exists for (paused, partitioned, or slow to notice).
    a = LeaseLeadership(db, "replica-a", poll_seconds=60, lease_seconds=60)
    b = LeaseLeadership(db, "replica-b", poll_seconds=0.05, lease_seconds=60)
    runner_a = BalancerRunner(db, leadership=a)
    runner_b = BalancerRunner(db, leadership=b)
    try:
        await a.start()
        await until(lambda: a.leading, "replica a elected")
        await b.start()
        await asyncio.sleep(0.3)  # b tries several times; the lease is held
        assert a.epoch == 1 and not b.leading
        with pytest.raises(NotLeader):  # a follower does not plan next to the leader
            await runner_b.run_once("rebalance on a follower")

        # a's lease connection dies (its backend is terminated, as a partition would end it):
        # b need not wait for the minute-long lease to run out
        holder, running = await lease_holder(db)
        assert holder is not None and running
        await db.read(
            lambda s: s.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": holder})
        )
        await until(lambda: b.leading, "replica b takes over")
        assert b.epoch == 2 and a.leading  # a has not noticed yet
        before = await written(db)
        with pytest.raises(Deposed):
            await runner_a.run_once("late plan")
        assert await written(db) == before and not a.leading

        report = await runner_b.run_once("the new leader plans")
        assert report.epoch == 2 and report.outcome.moved == 1
        leader = await db.read(lambda s: s.get(BalancerLeadership, 1))
        assert leader is not None and (leader.epoch, leader.replica) == (2, "replica-b")
    finally:
        await runner_a.stop()
        await runner_b.stop()
        await a.stop()
        await b.stop()
    assert (await lease_holder(db)) == (None, False)  # stopping released leadership


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
async def test_a_stalled_commit_and_an_unrenewed_lease_end_within_one_lease(db: Database) -> None:
    """A leader that took a one-second lease, began a plan commit (the share lock on the
    leadership row held) and then stopped sending anything: PostgreSQL ends the commit's
    session, the lease runs out, another replica is elected, and the stalled commit can write
    nothing when its client wakes."""
    assert db.async_engine is not None
    async with db.async_engine.connect() as stalled:
        epoch = await stalled.run_sync(lambda c: take_lease(c, "stalled", db.clock(), 1.0))
        await stalled.commit()
    assert epoch == 1
    follower = LeaseLeadership(db, "follower", poll_seconds=0.05, lease_seconds=1.0)
    async with db.async_engine.connect() as commit:
        await commit.run_sync(lambda c: check_epoch(Session(c), 1, lease_seconds=1.0))
        stalled_at = asyncio.get_running_loop().time()
        try:
            await follower.start()
            for _ in range(1000):  # polled: the machine may be slow
                if follower.leading:
                    break
                await asyncio.sleep(0.01)
            took = asyncio.get_running_loop().time() - stalled_at
            assert follower.epoch == 2, f"not elected after {took:.2f} s"
            with pytest.raises(sa.exc.DBAPIError):  # its session was ended meanwhile
                await commit.execute(sa.text("SELECT 1"))
        finally:
            await follower.stop()


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
async def test_a_replica_without_the_balancer_plans_once_when_nobody_leads(db: Database) -> None:
    await ready_study(db)
    idle = LeaseLeadership(db, "api-only", poll_seconds=0.05)  # never started
    try:
        report = await BalancerRunner(db, leadership=idle).run_once("rebalanceNow")
        assert report.epoch == 1 and report.outcome.moved == 1
        assert not idle.leading and (await lease_holder(db)) == (None, False)
    finally:
        await idle.stop()
