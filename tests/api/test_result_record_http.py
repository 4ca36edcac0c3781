"""The ACR communication record over real HTTP: what notifyResult records, who may acknowledge
(the recipient, or someone recording the recipient's read-back), with typed refusals."""

from __future__ import annotations

from typing import Any

import pytest

from api.relay import to_global_id
from domain.enums import CriticalLevel, ExamStatus
from tests.conftest import Api, Clock
from tests.factories import drive, order, reference

pytestmark = pytest.mark.usefixtures("backend")

RADIOLOGIST = ("RAD03", "radiologist")
SUPERVISOR = ("sup.ortiz", "supervisor")
REFERRER = ("REF01", "referrer")

RECORD = """communication {
  criticalLevel finding identifiedAt windowMinutes channel notifiedAt notifiedBy
  receivedByKind receivedByName receivedAt receivedVia
  acknowledgeBy acknowledgedAt acknowledgedBy readBackBy readBackVia
}"""
NOTIFY = f"""mutation($input: NotifyResultInput!) {{ notifyResult(input: $input) {{
  __typename
  ... on ResultCommunicated {{ {RECORD} }}
  ... on ValidationFailed {{ errors {{ field code }} }}
}} }}"""
ACKNOWLEDGE = f"""mutation($input: AcknowledgeResultInput!) {{ acknowledgeResult(input: $input) {{
  __typename
  ... on ResultAcknowledged {{ {RECORD} }}
  ... on ValidationFailed {{ errors {{ field code message }} }}
}} }}"""


async def test_a_result_phoned_in_is_recorded_and_acknowledged_for_the_recipient_by_read_back(
    api: Api, clock: Clock
) -> None:
    await reference(api.db)
    exam = await drive(
        api.db, await order(api.db), ExamStatus.FINAL, critical=CriticalLevel.CRITICAL
    )
    gid = to_global_id("Exam", exam.id or 0)
    signed = clock.now
    clock.advance(minutes=10)
    phoned = clock.now.isoformat()

    refused = await api.data(
        NOTIFY,
        {"input": {"examId": gid, "direct": {"receivedBy": " ", "channel": "PHONE"}}},
        actor=RADIOLOGIST,
    )
    assert refused["notifyResult"]["__typename"] == "ValidationFailed"  # type: ignore[index]
    told = await api.data(
        NOTIFY,
        {
            "input": {
                "examId": gid,
                "finding": "Free air under the right hemidiaphragm",
                "direct": {"receivedBy": "Dr Lee, ED", "channel": "PHONE", "at": phoned},
            }
        },
        actor=RADIOLOGIST,
    )
    record: Any = told["notifyResult"]
    assert record["__typename"] == "ResultCommunicated"
    communication = record["communication"]
    assert communication["finding"] == "Free air under the right hemidiaphragm"
    assert (communication["criticalLevel"], communication["windowMinutes"]) == ("CRITICAL", 60)
    assert communication["identifiedAt"] <= signed.isoformat()  # signed before notification
    assert (communication["notifiedBy"], communication["channel"]) == ("RAD03", "PHONE")
    assert (
        communication["receivedByKind"],
        communication["receivedByName"],
        communication["receivedVia"],
    ) == ("person", "Dr Lee, ED", "PHONE")

    clock.advance(minutes=5)
    for actor in (RADIOLOGIST, SUPERVISOR):  # neither received it: a read-back is needed
        answer: Any = await api.data(ACKNOWLEDGE, {"input": {"examId": gid}}, actor=actor)
        assert answer["acknowledgeResult"]["__typename"] == "ValidationFailed"
        assert [e["code"] for e in answer["acknowledgeResult"]["errors"]] == ["READ_BACK_REQUIRED"]
    read_back = {"readBackBy": "Dr Lee", "channel": "PHONE", "at": phoned}
    done: Any = await api.data(
        ACKNOWLEDGE, {"input": {"examId": gid, "readBack": read_back}}, actor=RADIOLOGIST
    )
    acknowledged = done["acknowledgeResult"]
    assert acknowledged["__typename"] == "ResultAcknowledged"
    assert (
        acknowledged["communication"]["acknowledgedAt"],
        acknowledged["communication"]["acknowledgedBy"],
        acknowledged["communication"]["readBackBy"],
        acknowledged["communication"]["readBackVia"],
    ) == (phoned, "RAD03", "Dr Lee", "PHONE")
    # Acknowledged once: the referrer's later acknowledgement changes nothing.
    again: Any = await api.data(ACKNOWLEDGE, {"input": {"examId": gid}}, actor=REFERRER)
    assert again["acknowledgeResult"]["communication"]["acknowledgedBy"] == "RAD03"


async def test_a_read_back_in_the_future_is_refused_with_its_field(api: Api, clock: Clock) -> None:
    await reference(api.db)
    exam = await drive(
        api.db, await order(api.db), ExamStatus.COMMUNICATED, critical=CriticalLevel.URGENT
    )
    gid = to_global_id("Exam", exam.id or 0)
    later = clock.now.replace(year=clock.now.year + 1).isoformat()
    read_back = {"readBackBy": "Dr Lee", "channel": "PHONE", "at": later}

    answer: Any = await api.data(
        ACKNOWLEDGE, {"input": {"examId": gid, "readBack": read_back}}, actor=SUPERVISOR
    )

    assert answer["acknowledgeResult"]["__typename"] == "ValidationFailed"
    ((field, code),) = [(e["field"], e["code"]) for e in answer["acknowledgeResult"]["errors"]]
    assert code == "IN_FUTURE" and "at" in field
