"""Giving an opened study back: a reader's hand-back, a supervisor's release, and the open
urgent reads of an absent reader released by themselves after the grace."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import col

from application.planning.runner import BalancerRunner
from domain.db import Database
from domain.enums import ExamStatus, Priority, RadiologistStatus, Role
from domain.errors import Conflict, InvalidTransition, NotPermitted, ValidationFailed
from domain.events import DomainEvent, ReadReleased, ReadStranded
from domain.lifecycle import Actor
from domain.models import Exam, ExamStatusChange, Radiologist, Read
from domain.services import reading, stranded, worklists
from tests.conftest import Clock
from tests.factories import RADIOLOGIST, SUPERVISOR, drive, order, reference, seeded_demo

pytestmark = pytest.mark.usefixtures("backend")
GRACE = timedelta(minutes=10)
RAD07 = Actor("RAD07", Role.RADIOLOGIST)


@pytest.fixture
async def department(db: Database) -> Database:
    await reference(db)  # RAD03 (BODY, GENERAL; MAIN + NORTH) is on shift
    await db.run(
        lambda uow: worklists.start_shift(
            uow=uow,
            actor=SUPERVISOR,
            radiologist_code="RAD07",
            site_code="NORTH",
            ends_at=uow.now + timedelta(hours=8),
        )
    )  # BREAST + BODY, NORTH + MAIN
    return db


async def opened(db: Database, priority: Priority = Priority.ROUTINE) -> int:
    """A study RAD03 has opened."""
    exam = await drive(db, await order(db, priority=priority), ExamStatus.IN_INTERPRETATION)
    assert exam.id is not None
    return exam.id


def recorded(db: Database) -> list[DomainEvent]:
    events: list[DomainEvent] = []
    db.on_commit(events.extend)
    return events


async def reads_of(db: Database, exam_id: int) -> list[Read]:
    return await db.read(
        lambda s: list(
            s.scalars(sa.select(Read).where(col(Read.exam_id) == exam_id).order_by(col(Read.id)))
        )
    )


async def status_of(db: Database, exam_id: int) -> ExamStatus:
    exam = await db.read(lambda s: s.get(Exam, exam_id))
    assert exam is not None
    return exam.status


async def holder(db: Database, exam_id: int) -> tuple[str, str]:
    """Who has the study now, and why."""
    current = (await reads_of(db, exam_id))[-1]
    assert current.ended_at is None
    code = await db.read(lambda s: s.get(Radiologist, current.radiologist_id))
    assert code is not None
    return code.code, current.reason


async def test_a_reader_hands_a_study_back_and_the_balancer_gives_it_to_someone_else(
    department: Database,
) -> None:
    db = department
    exam_id = await opened(db)
    events = recorded(db)

    await db.run(
        lambda uow: reading.release_read(
            uow=uow, actor=RADIOLOGIST, exam_id=exam_id, reason="conflict of interest"
        )
    )

    assert await status_of(db, exam_id) == ExamStatus.READY_FOR_READ
    ended = (await reads_of(db, exam_id))[-1]
    assert (ended.end_reason, ended.end_note) == (
        "HANDED_BACK",
        "handed back by RAD03: conflict of interest",
    )
    assert ended.ended_at is not None and not ended.pinned
    released = [e for e in events if isinstance(e, ReadReleased)]
    assert [(e.exam_id, e.from_status, e.to_status, e.actor) for e in released] == [
        (exam_id, ExamStatus.IN_INTERPRETATION, ExamStatus.READY_FOR_READ, "RAD03")
    ]
    history = await db.read(
        lambda s: s.scalars(
            sa.select(ExamStatusChange)
            .where(col(ExamStatusChange.exam_id) == exam_id)
            .order_by(col(ExamStatusChange.id).desc())
        ).first()
    )
    assert history is not None and history.reason == "handed back by RAD03: conflict of interest"

    await BalancerRunner(db).run_once("ReadReleased")
    reader, reason = await holder(db, exam_id)
    assert reader == "RAD07"  # RAD03, who handed it back, is not given it again
    assert reason.startswith("after handed back by RAD03: conflict of interest; ")


async def test_only_its_reader_hands_a_study_back_and_a_supervisor_releases_anyones(
    department: Database,
) -> None:
    db = department
    exam_id = await opened(db)
    version = (await db.read(lambda s: s.get(Exam, exam_id))).version  # type: ignore[union-attr]

    def release(actor: Actor, reason: str = "gone home", **extra: int) -> object:
        return db.run(
            lambda uow: reading.release_read(
                uow=uow, actor=actor, exam_id=exam_id, reason=reason, **extra
            )
        )

    with pytest.raises(NotPermitted):
        await release(RAD07)  # type: ignore[misc]
    with pytest.raises(ValidationFailed) as blank:
        await release(SUPERVISOR, "  ")  # type: ignore[misc]
    assert [i.field for i in blank.value.issues] == ["reason"]
    with pytest.raises(Conflict):
        await release(SUPERVISOR, expected_version=version - 1)  # type: ignore[misc]

    await release(SUPERVISOR, expected_version=version)  # type: ignore[misc]
    ended = (await reads_of(db, exam_id))[-1]
    assert (ended.end_reason, ended.end_note) == (
        "RELEASED",
        "released from RAD03 by sup.ortiz: gone home",
    )
    with pytest.raises(InvalidTransition):  # nothing opened to release any more
        await release(SUPERVISOR)  # type: ignore[misc]
    await BalancerRunner(db).run_once("ReadReleased")
    _, reason = await holder(db, exam_id)
    assert reason.startswith("after released from RAD03 by sup.ortiz: gone home; ")


async def test_a_reader_leaving_with_open_reads_is_raised_and_urgent_ones_go_after_the_grace(
    department: Database,
) -> None:
    db = department
    clock = db.clock
    assert isinstance(clock, Clock)
    stat, routine = await opened(db, Priority.STAT), await opened(db)
    events = recorded(db)

    await db.run(
        lambda uow: worklists.end_shift(uow=uow, actor=RADIOLOGIST, radiologist_code="RAD03")
    )
    left = clock.now
    raised = sorted((e.exam_id, e.reason) for e in events if isinstance(e, ReadStranded))
    assert raised == [
        (stat, "RAD03 went off shift with the study open"),
        (routine, "RAD03 went off shift with the study open"),
    ]
    listed = await db.read(lambda s: stranded.stranded_reads(s, clock.now, GRACE))
    assert {(s.exam_id, s.absent, s.absent_since, s.release_due_at) for s in listed} == {
        (stat, "off shift", left, left + GRACE),
        (routine, "off shift", left, None),
    }

    clock.advance(minutes=9)
    assert await db.run(lambda uow: stranded.release_stranded(uow=uow, grace=GRACE)) == []
    clock.advance(minutes=2)
    assert await db.run(lambda uow: stranded.release_stranded(uow=uow, grace=GRACE)) == [stat]
    assert await status_of(db, stat) == ExamStatus.READY_FOR_READ
    assert await status_of(db, routine) == ExamStatus.IN_INTERPRETATION  # a supervisor's call
    note = (await reads_of(db, stat))[-1].end_note
    assert note == (
        f"released by itself: RAD03 off shift since {left:%H:%M} UTC with this "
        "STAT study open, past the 10 min grace"
    )

    await BalancerRunner(db).run_once("ReadReleased")
    reader, reason = await holder(db, stat)
    assert reader == "RAD07" and reason.startswith(f"after {note}; ")


async def test_a_break_strands_a_read_and_the_runner_releases_it_on_its_own_run(
    department: Database,
) -> None:
    db = department
    clock = db.clock
    assert isinstance(clock, Clock)
    urgent = await opened(db, Priority.URGENT)
    await db.run(
        lambda uow: worklists.set_radiologist_status(
            uow=uow, actor=RADIOLOGIST, radiologist_code="RAD03", status=RadiologistStatus.ON_BREAK
        )
    )
    clock.advance(minutes=11)
    runner = BalancerRunner(db, release_grace=GRACE)
    await runner._release_stranded()  # what the leader's loop does before each run
    await runner.run_once("tick")
    reader, reason = await holder(db, urgent)
    assert reader == "RAD07" and "RAD03 on break since" in reason


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_the_demo_departments_stranded_stat_read_is_released(
    db: Database, tmp_path: Path
) -> None:
    """The demo seeds readers who went OFF holding IN_INTERPRETATION studies (one of them
    STAT): past the grace, the urgent ones go back to the balancer; routine ones stay listed."""
    url = await seeded_demo(tmp_path / "demo.db")
    clock = Clock()
    clock.now = datetime.now(UTC) + GRACE + timedelta(minutes=1)
    demo = Database(url, clock=clock)
    try:
        before = await demo.read(lambda s: stranded.stranded_reads(s, clock.now, GRACE))
        urgent = sorted(s.exam_id for s in before if s.priority in (Priority.STAT, Priority.URGENT))
        assert any(s.priority == Priority.STAT for s in before), before
        assert all(s.absent == "off shift" for s in before)
        released = await demo.run(lambda uow: stranded.release_stranded(uow=uow, grace=GRACE))
        assert sorted(released) == urgent
        after = await demo.read(lambda s: stranded.stranded_reads(s, clock.now, GRACE))
        assert [s.exam_id for s in after] == [s.exam_id for s in before if s.exam_id not in urgent]
        for exam_id in urgent:
            assert await status_of(demo, exam_id) == ExamStatus.READY_FOR_READ
    finally:
        await demo.dispose()
