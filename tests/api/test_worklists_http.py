"""Worklists over HTTP with the balancer live: every kind of event leads to a re-plan."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from api.relay import to_global_id
from domain.enums import ExamStatus
from domain.services import acquisition
from tests.conftest import Api
from tests.factories import TECH, drive, header_for, order, reference

pytestmark = pytest.mark.usefixtures("backend")

SUPERVISOR = ("sup.ortiz", "supervisor")
RAD03 = ("RAD03", "radiologist")

STATUS = "{ balancerStatus { lastRun { trigger moved assigned unassignable { reason } } } }"
WORKLIST = """query($code: String!) { worklist(radiologistCode: $code) {
    position priority reason pinned opened exam { id status } } }"""
RADIOLOGISTS = "{ radiologists { code status shift { site { code } } load { studies wrvu } } }"


def mutation(name: str, input_type: str, payload: str = "__typename") -> str:
    return (
        f"mutation($input: {input_type}!) {{ {name}(input: $input) {{ __typename "
        f"... on Error {{ code message }} ... on ValidationFailed {{ errors {{ code }} }} "
        f"{payload} }} }}"
    )


START_SHIFT = mutation("startShift", "StartShiftInput")
END_SHIFT = mutation("endShift", "RadiologistInput")
SET_STATUS = mutation("setRadiologistStatus", "SetRadiologistStatusInput")
PIN = mutation("pinAssignment", "PinAssignmentInput")
UNPIN = mutation("unpinAssignment", "UnpinAssignmentInput")
REGISTER = mutation("registerStorage", "RegisterStorageInput")
OPEN = mutation("openRead", "ExamInput")


async def wait_for_run(api: Api, event: str, *, seen: int) -> dict[str, Any]:
    """Poll balancerStatus until a run triggered by `event` committed after `seen` runs."""
    for _ in range(200):
        data = await api.data(
            "{ balancerStatus { lastRun { trigger moved assigned } recentRuns { trigger } } }"
        )
        runs = data["balancerStatus"]["recentRuns"]  # type: ignore[index]
        if len(runs) > seen and any(event in r["trigger"] for r in runs[: len(runs) - seen]):
            return data["balancerStatus"]["lastRun"]  # type: ignore[index,no-any-return]
        await asyncio.sleep(0.02)
    raise AssertionError(f"no balancer run after {event}")


async def run_count(api: Api) -> int:
    data = await api.data("{ balancerStatus { recentRuns { trigger } } }")
    return len(data["balancerStatus"]["recentRuns"])  # type: ignore[index]


@pytest.fixture
async def live(live_api: Api) -> Api:
    await reference(live_api.db)
    await wait_for_run(live_api, "start", seen=0)
    return live_api


async def test_each_kind_of_event_triggers_a_replan(live: Api) -> None:
    db = live.db
    exam = await drive(db, await order(db), ExamStatus.ACQUIRED)
    gid = to_global_id("Exam", exam.id or 0)

    async def expect(
        event: str, document: str, input: dict[str, Any], actor: tuple[str, str] = SUPERVISOR
    ) -> None:
        seen = min(await run_count(live), 9)
        result = await live.data(document, {"input": input}, actor=actor)
        assert "Error" not in str(result), result
        await wait_for_run(live, event, seen=seen)

    header = await header_for(db, exam)
    await db.run(
        lambda uow: acquisition.validate_metadata(
            uow=uow, actor=TECH, exam_id=exam.id, header=header
        )
    )
    await expect(
        "StudyReadyForRead",
        REGISTER,
        {"examId": gid, "studyInstanceUid": "1.2.3.4", "archiveLocation": "pacs://x"},
        actor=("tech", "technologist"),
    )
    worklist = (await live.data(WORKLIST, {"code": "RAD03"}))["worklist"]
    assert [w["exam"]["id"] for w in worklist] == [gid]  # type: ignore[index]
    assert worklist[0]["position"] == 0 and "eligible" in worklist[0]["reason"]  # type: ignore[index]
    ends = (db.clock() + timedelta(hours=8)).isoformat()
    await expect(
        "ShiftStarted",
        START_SHIFT,
        {"radiologistCode": "RAD07", "siteCode": "NORTH", "endsAt": ends},
    )
    await expect(
        "RadiologistStatusChanged", SET_STATUS, {"radiologistCode": "RAD07", "status": "ON_BREAK"}
    )
    await expect(
        "AssignmentPinned", PIN, {"examId": gid, "radiologistCode": "RAD03", "reason": "continuity"}
    )
    await expect("AssignmentUnpinned", UNPIN, {"examId": gid})
    await expect("ReadOpened", OPEN, {"examId": gid}, actor=RAD03)
    await expect("ShiftEnded", END_SHIFT, {"radiologistCode": "RAD07"})
    loads = {r["code"]: r for r in (await live.data(RADIOLOGISTS))["radiologists"]}  # type: ignore[union-attr]
    assert loads["RAD03"]["load"]["studies"] == 1 and loads["RAD03"]["shift"] is not None
    assert loads["RAD07"]["status"] == "OFF" and loads["RAD07"]["shift"] is None


async def test_rebalance_now_and_pin_errors(live: Api) -> None:
    db = live.db
    exam = await drive(db, await order(db), ExamStatus.READY_FOR_READ)
    gid = to_global_id("Exam", exam.id or 0)
    body = await live.graphql(
        "mutation { rebalanceNow { run { trigger moved } stale } }", actor=RAD03
    )
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"  # type: ignore[index]
    done = await live.data(
        "mutation { rebalanceNow { run { trigger assigned objective { name value } } stale } }",
        actor=SUPERVISOR,
    )
    run = done["rebalanceNow"]["run"]  # type: ignore[index]
    assert "rebalanceNow by sup.ortiz" in run["trigger"] and run["assigned"] >= 1
    assert {t["name"] for t in run["objective"]} >= {"lateness", "balance", "stability"}
    refused = await live.data(
        PIN, {"input": {"examId": gid, "radiologistCode": "RAD02", "reason": "x"}}, actor=SUPERVISOR
    )
    assert refused["pinAssignment"]["__typename"] == "ValidationFailed"  # type: ignore[index]
    assert refused["pinAssignment"]["errors"] == [{"code": "NOT_ELIGIBLE"}]  # type: ignore[index]


async def test_unassignable_studies_are_reported(live: Api) -> None:
    db = live.db
    exam = await drive(db, await order(db), ExamStatus.READY_FOR_READ)
    seen = min(await run_count(live), 9)
    await live.data(END_SHIFT, {"input": {"radiologistCode": "RAD03"}}, actor=SUPERVISOR)
    await wait_for_run(live, "ShiftEnded", seen=seen)
    status = (await live.data(STATUS))["balancerStatus"]["lastRun"]  # type: ignore[index]
    assert status["unassignable"] and "on shift" in status["unassignable"][0]["reason"]
    assert exam.id is not None


SEARCH = (
    "{ balancerStatus { leading search { enabled cycles rounds improvements objectiveWon "
    "yielded fenced lastAt } } }"
)


async def test_the_leader_searches_between_events_and_says_so(live: Api) -> None:
    for _ in range(1500):  # the first cycle starts once the department is quiet (2 s)
        status = (await live.data(SEARCH))["balancerStatus"]  # type: ignore[index]
        if status["search"]["cycles"] >= 1:
            break
        await asyncio.sleep(0.02)
    else:
        raise AssertionError("the leader never searched")
    search = status["search"]
    assert status["leading"] and search["enabled"]
    assert search["lastAt"] is not None and search["fenced"] == 0
    assert search["improvements"] <= search["cycles"] and search["objectiveWon"] >= 0
