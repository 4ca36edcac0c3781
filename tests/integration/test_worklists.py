"""Worklists in the database: shifts, pins, and committing plans (diff only, stale-safe)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import col

from application.planning.runner import BalancerRunner, read_state
from domain.db import Database
from domain.enums import ExamStatus, RadiologistStatus
from domain.errors import NotFound, NotPermitted, ValidationFailed
from domain.events import AssignmentChanged, BalancerRan, DomainEvent
from domain.models import Radiologist, Read, Site, SitePrivilege
from domain.services import reading, worklists
from tests.conftest import Clock
from tests.factories import RADIOLOGIST, SUPERVISOR, TECH, drive, order, reference

pytestmark = pytest.mark.usefixtures("backend")


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


async def ready(db: Database, n: int) -> list[int]:
    ids = []
    for _ in range(n):
        exam = await drive(db, await order(db), ExamStatus.READY_FOR_READ)
        assert exam.id is not None
        ids.append(exam.id)
    return ids


def current_reads(db: Database) -> object:
    return db.read(
        lambda s: {r.exam_id: r for r in s.scalars(sa.select(Read).where(Read.ended_at.is_(None)))}
    )  # type: ignore[union-attr]


async def test_a_run_places_every_waiting_study_on_an_eligible_worklist(
    department: Database,
) -> None:
    exams = await ready(department, 6)
    events: list[DomainEvent] = []
    department.on_commit(events.extend)
    runner = BalancerRunner(department)
    report = await runner.run_once("test")
    reads = await current_reads(department)  # type: ignore[misc]
    assert set(exams) <= set(reads)
    assert {reads[e].radiologist_id for e in exams} <= {3, 7}
    changed = [e for e in events if isinstance(e, AssignmentChanged)]
    assert sorted(e.exam_id for e in changed) == sorted(exams)  # one event per moved study
    assert any(isinstance(e, BalancerRan) for e in events)
    assert report.outcome.moved == 6 and report.outcome.stale == 0
    again = await runner.run_once("again")
    assert again.outcome.moved == 0  # a stable plan is not moved
    await runner.stop()


async def test_opened_and_pinned_studies_never_move(department: Database) -> None:
    first, second, third = await ready(department, 3)
    await department.run(
        lambda uow: worklists.pin_assignment(
            uow=uow, actor=SUPERVISOR, exam_id=first, radiologist_code="RAD07", reason="expert"
        )
    )
    await department.run(
        lambda uow: worklists.pin_assignment(
            uow=uow, actor=SUPERVISOR, exam_id=second, radiologist_code="RAD03", reason="load"
        )
    )
    await department.run(lambda uow: reading.open_read(uow=uow, actor=RADIOLOGIST, exam_id=second))
    runner = BalancerRunner(department)
    for _ in range(3):
        await runner.run_once("test")
    reads = await current_reads(department)  # type: ignore[misc]
    assert reads[first].radiologist_id == 7 and reads[first].pinned
    assert reads[second].radiologist_id == 3 and reads[second].opened_at is not None
    assert third in reads
    await runner.stop()


async def test_pinning_to_an_ineligible_reader_is_refused(department: Database) -> None:
    [exam] = await ready(department, 1)
    for code, why in [("RAD02", "NEURO"), ("RAD06", "not on shift")]:
        with pytest.raises(ValidationFailed) as failure:
            await department.run(
                lambda uow, code=code: worklists.pin_assignment(
                    uow=uow, actor=SUPERVISOR, exam_id=exam, radiologist_code=code, reason="x"
                )
            )
        assert failure.value.issues[0].code == "NOT_ELIGIBLE"
        assert (
            why in failure.value.issues[0].message
            or "credential" in failure.value.issues[0].message
        )
    with pytest.raises(NotPermitted):
        await department.run(
            lambda uow: worklists.pin_assignment(
                uow=uow, actor=TECH, exam_id=exam, radiologist_code="RAD03", reason="x"
            )
        )


def _expire_rad03_privileges(uow: Any) -> None:
    uow.session.execute(
        sa.update(SitePrivilege)
        .where(col(SitePrivilege.radiologist_id) == 3)
        .values(expires_on=date(2026, 3, 1))
    )


def _privilege_rad10_at_north(uow: Any) -> None:  # RAD10: BODY, MAIN only
    uow.session.execute(
        sa.insert(SitePrivilege).values(
            radiologist_id=sa.select(Radiologist.id)
            .where(col(Radiologist.code) == "RAD10")
            .scalar_subquery(),
            site_id=sa.select(Site.id).where(col(Site.code) == "NORTH").scalar_subquery(),
        )
    )


PIN_REFUSALS = {
    # code pinned, what happens first, the refusal
    "no credential": ("RAD06", None, "RAD06 holds no BODY credential"),
    "no privilege at the site": ("RAD04", None, "RAD04 has no privilege for the exam's site"),
    "an expired privilege": (
        "RAD03",
        "expire",
        "RAD03's privilege for the exam's site expired 2026-03-01",
    ),
    "no shift": ("RAD10", "privilege", "RAD10 is not on shift"),
    "a shift ended": ("RAD07", "end shift", "RAD07 is not on shift"),
    "a shift run out": ("RAD07", "later", "RAD07 is not on shift"),
    "a break": ("RAD03", "break", "RAD03 is on break"),
}


@pytest.mark.parametrize("case", PIN_REFUSALS)
async def test_a_pin_names_why_the_reader_may_not_take_the_study(
    department: Database, clock: Clock, case: str
) -> None:
    [exam] = await ready(department, 1)  # USABD (BODY) at NORTH
    code, before, why = PIN_REFUSALS[case]
    if before == "expire":
        await department.run(_expire_rad03_privileges)
    elif before == "privilege":
        await department.run(_privilege_rad10_at_north)
    elif before == "end shift":
        await department.run(
            lambda uow: worklists.end_shift(uow=uow, actor=SUPERVISOR, radiologist_code="RAD07")
        )
    elif before == "later":  # RAD07's shift ran its 8 hours, nobody ended it
        clock.advance(hours=8)
    elif before == "break":
        await department.run(
            lambda uow: worklists.set_radiologist_status(
                uow=uow,
                actor=SUPERVISOR,
                radiologist_code="RAD03",
                status=RadiologistStatus.ON_BREAK,
            )
        )
    with pytest.raises(ValidationFailed) as refused:
        await department.run(
            lambda uow: worklists.pin_assignment(
                uow=uow, actor=SUPERVISOR, exam_id=exam, radiologist_code=code, reason="x"
            )
        )
    [issue] = refused.value.issues
    assert (issue.field, issue.code, issue.message) == ("radiologist_code", "NOT_ELIGIBLE", why)
    assert not await department.read(
        lambda s: s.scalars(sa.select(Read).where(col(Read.exam_id) == exam)).all()
    )


async def test_a_pin_to_an_unknown_reader_is_not_found_and_a_pin_that_may_is_kept(
    department: Database,
) -> None:
    [exam] = await ready(department, 1)
    with pytest.raises(NotFound) as missing:
        await department.run(
            lambda uow: worklists.pin_assignment(
                uow=uow, actor=SUPERVISOR, exam_id=exam, radiologist_code="RAD99", reason="x"
            )
        )
    assert missing.value.field == "radiologist_code"
    read = await department.run(
        lambda uow: worklists.pin_assignment(
            uow=uow, actor=SUPERVISOR, exam_id=exam, radiologist_code="RAD07", reason="x"
        )
    )
    assert read.pinned and read.reason == "pinned: x"


async def test_a_stale_plan_leaves_changed_studies_alone(department: Database) -> None:
    exams = await ready(department, 2)
    runner = BalancerRunner(department)
    now = department.clock()
    state = await department.read(lambda s: read_state(s, now))
    # Between the snapshot and the commit, a supervisor pins one study.
    await department.run(
        lambda uow: worklists.pin_assignment(
            uow=uow, actor=SUPERVISOR, exam_id=exams[0], radiologist_code="RAD07", reason="x"
        )
    )
    from application.planning.runner import changes
    from balancer.planner import plan

    planned, unplaced = changes(state, plan(state.snapshot))
    outcome = await department.run(
        lambda uow: worklists.apply_plan(
            uow=uow,
            planned=planned,
            unassignable_seen=unplaced,
            summary=worklists.PlanSummary(
                started_at=now, duration_ms=1, trigger="t", formulation="f", objective={}
            ),
        )
    )
    assert outcome.stale == 1
    reads = await current_reads(department)  # type: ignore[misc]
    assert reads[exams[0]].radiologist_id == 7 and reads[exams[0]].pinned
    await runner.stop()


async def test_ending_a_shift_moves_unopened_work_and_lists_what_nobody_can_take(
    department: Database,
) -> None:
    exams = await ready(department, 3)
    runner = BalancerRunner(department)
    await runner.run_once("test")
    await department.run(
        lambda uow: worklists.end_shift(uow=uow, actor=SUPERVISOR, radiologist_code="RAD07")
    )
    await runner.run_once("shift ended")
    reads = await current_reads(department)  # type: ignore[misc]
    assert {reads[e].radiologist_id for e in exams} == {3}
    await department.run(
        lambda uow: worklists.end_shift(uow=uow, actor=SUPERVISOR, radiologist_code="RAD03")
    )
    report = await runner.run_once("everyone left")
    assert set(report.plan.unassignable) == set(exams)
    assert all("on shift" in why for why in report.plan.unassignable.values())
    reads = await current_reads(department)  # type: ignore[misc]
    assert not set(exams) & set(reads)  # off the worklists of readers who left
    await runner.stop()


async def test_status_changes_need_a_shift(department: Database) -> None:
    with pytest.raises(ValidationFailed) as failure:
        await department.run(
            lambda uow: worklists.set_radiologist_status(
                uow=uow,
                actor=SUPERVISOR,
                radiologist_code="RAD01",
                status=RadiologistStatus.ON_BREAK,
            )
        )
    assert failure.value.issues[0].code == "NO_OPEN_SHIFT"
    radiologist = await department.run(
        lambda uow: worklists.set_radiologist_status(
            uow=uow, actor=SUPERVISOR, radiologist_code="RAD03", status=RadiologistStatus.ON_BREAK
        )
    )
    assert radiologist.status == RadiologistStatus.ON_BREAK
