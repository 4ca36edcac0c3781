"""Caps never hide urgent work, over HTTP with the balancer live: a STAT left without a reader
under a cap that holds is raised once (the StatUnassigned event in the outbox, a
STAT_UNASSIGNED call queued for the supervisors' line) and listed first on the board; a cap
that bends for STAT places it, over the cap, with the reason on its worklist item."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import col

from api.relay import to_global_id
from domain.db import Database
from domain.enums import ExamStatus, NotificationTemplate, Priority
from domain.models import Notification, OutboxEvent
from tests.api.test_rules_http import activate, rule, save
from tests.api.test_worklists_http import START_SHIFT, WORKLIST, wait_for_run
from tests.conftest import Api
from tests.factories import drive, order, reference

pytestmark = pytest.mark.usefixtures("backend")

SUPERVISOR = ("sup.ortiz", "supervisor")
BOARD = (
    """{ balancerStatus { lastRun { trigger unassignable { priority reason exam { id } } } } }"""
)


def cap(**extra: Any) -> list[dict[str, Any]]:
    return [
        rule(
            "One open STAT",
            'priority == "STAT"',
            {"kind": "CAP_PER_RADIOLOGIST", "maxOpen": 1, **extra},
        )
    ]


@pytest.fixture
async def live(live_api: Api) -> Api:
    await reference(live_api.db)  # RAD03 on shift
    await wait_for_run(live_api, "start", seen=0)
    # Long enough for the whole test: each step of driving an exam moves the test clock on.
    ends = (live_api.db.clock() + timedelta(hours=22)).isoformat()
    await live_api.data(
        START_SHIFT,
        {"input": {"radiologistCode": "RAD07", "siteCode": "NORTH", "endsAt": ends}},
        actor=SUPERVISOR,
    )
    return live_api


async def board(api: Api, until: Any) -> dict[str, Any]:
    """The board's last run once `until(run)` holds (the balancer re-plans on its own)."""
    async with asyncio.timeout(120):  # a hang guard only: the machine may be very slow
        while True:
            run = (await api.data(BOARD, actor=SUPERVISOR))["balancerStatus"]["lastRun"]  # type: ignore[index]
            if run is not None and until(run):
                return run  # type: ignore[no-any-return]
            await asyncio.sleep(0.02)


async def raised(db: Database) -> tuple[list[int], list[Notification]]:
    """The StatUnassigned events' exams and the STAT_UNASSIGNED calls queued."""

    def read(s: Any) -> tuple[list[int], list[Notification]]:
        events = s.scalars(
            sa.select(OutboxEvent)
            .where(col(OutboxEvent.type) == "StatUnassigned")
            .order_by(col(OutboxEvent.id))
        ).all()
        calls = s.scalars(
            sa.select(Notification).where(
                col(Notification.template) == NotificationTemplate.STAT_UNASSIGNED
            )
        ).all()
        return [int(e.payload["exam_id"]) for e in events], list(calls)

    return await db.read(read)


async def test_a_stat_no_cap_lets_anyone_take_is_raised_once_and_tops_the_board(
    live: Api,
) -> None:
    db = live.db
    saved = await save(live, cap())
    await activate(live, saved["ruleSet"]["version"])
    routine = await drive(db, await order(db), ExamStatus.READY_FOR_READ)
    stats = [
        await drive(db, await order(db, priority=Priority.STAT), ExamStatus.READY_FOR_READ)
        for _ in range(3)
    ]
    gids = {to_global_id("Exam", e.id or 0) for e in stats}
    # Two readers, one STAT each: the third is on nobody's worklist.
    run = await board(live, lambda r: any(u["priority"] == "STAT" for u in r["unassignable"]))
    first = run["unassignable"][0]
    assert first["priority"] == "STAT" and first["exam"]["id"] in gids
    assert "at the cap for One open STAT" in first["reason"]
    left = next(e.id for e in stats if to_global_id("Exam", e.id or 0) == first["exam"]["id"])
    exams, calls = await raised(db)
    assert exams == [left]
    assert [(c.exam_id, c.recipient_kind, c.payload["reason"]) for c in calls] == [
        (left, "supervisor", first["reason"])
    ]

    # Later runs still leave it out and raise nothing more.
    await drive(db, await order(db), ExamStatus.READY_FOR_READ)
    await board(live, lambda r: r["trigger"] != run["trigger"])
    exams, calls = await raised(db)
    assert exams == [left] and len(calls) == 1

    # The rule bends the cap for STAT: the next run places it, over the cap, and says why.
    saved = await save(live, cap(statOverPrice=60.0), based_on=saved["ruleSet"]["version"])
    await activate(live, saved["ruleSet"]["version"])
    await board(live, lambda r: "RuleSetActivated" in r["trigger"])
    gid = first["exam"]["id"]
    async with asyncio.timeout(120):
        while True:
            items = [
                i
                for code in ("RAD03", "RAD07")
                for i in (await live.data(WORKLIST, {"code": code}))["worklist"]  # type: ignore[union-attr]
            ]
            mine = [i for i in items if i["exam"]["id"] == gid]  # type: ignore[index]
            if mine:
                break
            await asyncio.sleep(0.02)
    assert "over the cap for One open STAT" in mine[0]["reason"]  # type: ignore[index]
    assert "bends it for STAT at a price of 60" in mine[0]["reason"]  # type: ignore[index]
    assert routine.id is not None
