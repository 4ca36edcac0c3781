"""releaseRead and stranded reads over HTTP, with the balancer live: a hand-back, a
supervisor's release, and an absent reader's STAT released by itself after the grace."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from api.relay import to_global_id
from domain.db import Database
from domain.enums import ExamStatus, Priority
from tests.api.test_worklists_http import END_SHIFT, START_SHIFT, WORKLIST, mutation, wait_for_run
from tests.conftest import Api, Clock
from tests.factories import drive, order, reference

pytestmark = pytest.mark.usefixtures("backend")

SUPERVISOR = ("sup.ortiz", "supervisor")
RAD03 = ("RAD03", "radiologist")
RAD07 = ("RAD07", "radiologist")
RELEASE = mutation(
    "releaseRead",
    "ReleaseReadInput",
    "... on ReadReleased { exam { status version } read { endReason endNote } }",
)
STRANDED = """{ balancerStatus { strandedReads {
    radiologistCode priority absent absentSince releaseDueAt exam { id status } } } }"""


@pytest.fixture
async def live(live_api: Api) -> Api:
    await reference(live_api.db)  # RAD03 on shift
    await wait_for_run(live_api, "start", seen=0)
    ends = (live_api.db.clock() + timedelta(hours=8)).isoformat()
    await live_api.data(
        START_SHIFT,
        {"input": {"radiologistCode": "RAD07", "siteCode": "NORTH", "endsAt": ends}},
        actor=SUPERVISOR,
    )
    return live_api


async def opened(db: Database, priority: Priority = Priority.ROUTINE) -> tuple[str, int]:
    """A study RAD03 opened: its global id and version."""
    exam = await drive(db, await order(db, priority=priority), ExamStatus.IN_INTERPRETATION)
    return to_global_id("Exam", exam.id or 0), exam.version


async def release(api: Api, actor: tuple[str, str], **input: Any) -> dict[str, Any]:
    data = await api.data(RELEASE, {"input": input}, actor=actor)
    return data["releaseRead"]  # type: ignore[return-value]


async def on_worklist(api: Api, code: str, gid: str) -> dict[str, Any]:
    """Wait until the study is on `code`'s worklist; its item."""
    for _ in range(300):
        items = (await api.data(WORKLIST, {"code": code}))["worklist"]
        found = [i for i in items if i["exam"]["id"] == gid]  # type: ignore[index,union-attr]
        if found:
            return found[0]  # type: ignore[no-any-return]
        await asyncio.sleep(0.02)
    raise AssertionError(f"{gid} never reached {code}'s worklist")


async def test_a_reader_hands_a_study_back_and_it_is_replanned_to_someone_else(live: Api) -> None:
    gid, version = await opened(live.db)

    refused = await release(live, RAD07, examId=gid, reason="not mine")
    assert refused["__typename"] == "NotFound"  # another reader's study: not theirs to see
    blank = await release(live, RAD03, examId=gid, reason="")
    assert blank["__typename"] == "ValidationFailed"
    stale = await release(live, RAD03, examId=gid, reason="x", expectedVersion=version - 1)
    assert stale["__typename"] == "Conflict"

    done = await release(
        live, RAD03, examId=gid, reason="conflict of interest", expectedVersion=version
    )
    assert done["__typename"] == "ReadReleased", done
    assert done["exam"]["status"] == "READY_FOR_READ"
    assert done["read"] == {
        "endReason": "HANDED_BACK",
        "endNote": "handed back by RAD03: conflict of interest",
    }
    item = await on_worklist(live, "RAD07", gid)
    assert item["reason"].startswith("after handed back by RAD03: conflict of interest; ")
    again = await release(live, RAD03, examId=gid, reason="twice")
    assert again["__typename"] in {"NotFound", "InvalidTransition"}


async def test_a_supervisor_releases_the_study_of_a_reader_who_went_off_shift(live: Api) -> None:
    gid, _ = await opened(live.db)
    await live.data(END_SHIFT, {"input": {"radiologistCode": "RAD03"}}, actor=SUPERVISOR)
    listed = (await live.data(STRANDED, actor=SUPERVISOR))["balancerStatus"]["strandedReads"]  # type: ignore[index]
    assert [
        (s["exam"]["id"], s["radiologistCode"], s["absent"], s["releaseDueAt"]) for s in listed
    ] == [(gid, "RAD03", "off shift", None)]  # routine: a supervisor's
    assert (await live.data(STRANDED, actor=RAD07))["balancerStatus"]["strandedReads"] == []  # type: ignore[index]

    done = await release(live, SUPERVISOR, examId=gid, reason="RAD03 went home")
    assert done["read"]["endNote"] == "released from RAD03 by sup.ortiz: RAD03 went home"
    item = await on_worklist(live, "RAD07", gid)
    assert item["reason"].startswith("after released from RAD03 by sup.ortiz: RAD03 went home")
    assert (await live.data(STRANDED, actor=SUPERVISOR))["balancerStatus"]["strandedReads"] == []  # type: ignore[index]


async def test_an_absent_readers_stat_is_released_by_itself_after_the_grace(live: Api) -> None:
    clock = live.db.clock
    assert isinstance(clock, Clock)
    gid, _ = await opened(live.db, Priority.STAT)
    await live.data(END_SHIFT, {"input": {"radiologistCode": "RAD03"}}, actor=SUPERVISOR)
    listed = (await live.data(STRANDED, actor=SUPERVISOR))["balancerStatus"]["strandedReads"]  # type: ignore[index]
    assert listed[0]["priority"] == "STAT" and listed[0]["releaseDueAt"] is not None

    clock.advance(minutes=11)  # past the default 10 min grace
    ends = (clock() + timedelta(hours=8)).isoformat()  # any event wakes the leader's loop
    await live.data(
        START_SHIFT,
        {"input": {"radiologistCode": "RAD01", "siteCode": "MAIN", "endsAt": ends}},
        actor=SUPERVISOR,
    )
    item = await on_worklist(live, "RAD07", gid)
    assert item["reason"].startswith("after released by itself: RAD03 off shift since ")
    assert "STAT study open, past the 10 min grace" in item["reason"]
    assert (await live.data(STRANDED, actor=SUPERVISOR))["balancerStatus"]["strandedReads"] == []  # type: ignore[index]
