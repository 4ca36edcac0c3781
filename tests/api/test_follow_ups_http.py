"""Follow-ups over GraphQL: recorded with an interval, listed by status, overdue, referrer and
site (paged, bounded by the caller's view), and fulfilled by the matching exam unprompted."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from api.relay import to_global_id
from domain.db import Database
from domain.enums import ExamStatus, IntervalUnit, PatientClass, Priority
from domain.models import Exam
from domain.services import orders, timed
from domain.services.follow_ups import due_date
from tests.conftest import Api, Clock
from tests.factories import SCHEDULER, drive, reference

pytestmark = pytest.mark.usefixtures("backend")

RECORD = """
mutation($input: RecordFollowUpInput!) {
  recordFollowUp(input: $input) {
    __typename
    ... on FollowUpRecorded { followUp { id modality bodyRegion intervalCount intervalUnit
                                         reason dueOn status overdue } }
    ... on ValidationFailed { errors { field code message } }
  }
}"""

LIST = """
query($filter: FollowUpFilter, $first: Int!, $after: String) {
  followUps(filter: $filter, first: $first, after: $after) {
    totalCount
    edges { cursor node { id dueOn status overdue bodyRegion escalationCount
                          exam { accessionNumber } fulfilledBy { accessionNumber } } }
    pageInfo { hasNextPage endCursor }
  }
}"""

RADIOLOGIST = ("RAD03", "radiologist")


async def placed(db: Database, referrer: str, procedure: str, site: str) -> Exam:
    """An exam ordered for patient MRN000001 on `referrer`'s behalf."""
    result = await db.run(
        lambda uow: orders.place_order(
            uow=uow,
            actor=SCHEDULER,
            order_source="EPIC",
            placer_order_number=f"F{referrer}{procedure}{uow.now.timestamp():.0f}",
            patient_mrn="MRN000001",
            referrer_code=referrer,
            procedure_code=procedure,
            site_code=site,
            priority=Priority.ROUTINE,
            patient_class=PatientClass.OUTPATIENT,
            indication="Pain",
            icd10_code="R10.9",
        )
    )
    return result.exam


async def record(api: Api, exam: Exam, **given: Any) -> dict[str, Any]:
    payload = {"examId": to_global_id("Exam", exam.id), "recommendation": "Follow-up"} | given
    data = await api.data(RECORD, {"input": payload}, actor=RADIOLOGIST)
    return data["recordFollowUp"]  # type: ignore[return-value]


async def listed(api: Api, actor: tuple[str, str] = ("admin", "admin"), **variables: Any) -> Any:
    data = await api.data(LIST, {"first": 20} | variables, actor=actor)
    return data["followUps"]


async def test_follow_ups_are_recorded_listed_paged_scoped_and_fulfilled_by_the_matching_exam(
    api: Api, clock: Clock
) -> None:
    db = api.db
    await reference(db)
    abdomen = await drive(db, await placed(db, "REF01", "USABD", "NORTH"), ExamStatus.FINAL)
    head = await drive(
        db, await placed(db, "REF02", "CTAP", "MAIN"), ExamStatus.FINAL, procedure="CTAP"
    )
    today = clock.now.date()

    us = await record(
        api,
        abdomen,
        modality="US",
        bodyRegion="abdomen",
        interval={"count": 3, "unit": "MONTHS"},
        reason="indeterminate lesion",
    )
    assert us["__typename"] == "FollowUpRecorded"
    assert us["followUp"] | {"id": None} == {
        "id": None,
        "modality": "US",
        "bodyRegion": "ABDOMEN",  # the catalogue's word
        "intervalCount": 3,
        "intervalUnit": "MONTHS",
        "reason": "indeterminate lesion",
        "dueOn": due_date(today, 3, IntervalUnit.MONTHS).isoformat(),
        "status": "OPEN",
        "overdue": False,
    }
    ct = await record(api, head, procedureCode="CTAP", interval={"count": 2, "unit": "WEEKS"})
    assert ct["followUp"]["dueOn"] == (today + timedelta(weeks=2)).isoformat()
    assert ct["followUp"]["bodyRegion"] == "ABDOMEN"

    # Bad input: a typed answer naming the field, nothing written.
    both = await record(
        api, head, interval={"count": 1, "unit": "DAYS"}, dueOn=(today + timedelta(1)).isoformat()
    )
    assert both["__typename"] == "ValidationFailed"
    assert [(i["field"], i["code"]) for i in both["errors"]] == [("input.dueOn", "INVALID_VALUE")]
    nowhere = await record(
        api, head, modality="MR", bodyRegion="ELBOW", interval={"count": 1, "unit": "YEARS"}
    )
    assert [(i["field"], i["code"]) for i in nowhere["errors"]] == [
        ("input.bodyRegion", "NOT_FOUND")
    ]

    # Soonest due first, keyset paged.
    first = await listed(api, first=1)
    assert first["totalCount"] == 2 and first["pageInfo"]["hasNextPage"] is True
    assert [e["node"]["id"] for e in first["edges"]] == [ct["followUp"]["id"]]
    rest = await listed(api, first=1, after=first["pageInfo"]["endCursor"])
    assert [e["node"]["id"] for e in rest["edges"]] == [us["followUp"]["id"]]
    assert rest["pageInfo"]["hasNextPage"] is False

    def ids(page: Any) -> list[str]:
        return [e["node"]["id"] for e in page["edges"]]

    # Bounded by the caller's view; filtered by referrer and site.
    assert ids(await listed(api, actor=("REF01", "referrer"))) == [us["followUp"]["id"]]
    assert ids(await listed(api, actor=("REF02", "referrer"))) == [ct["followUp"]["id"]]
    assert ids(await listed(api, filter={"referrer": "REF02"})) == [ct["followUp"]["id"]]
    assert ids(await listed(api, filter={"site": "NORTH"})) == [us["followUp"]["id"]]
    assert ids(await listed(api, filter={"status": ["COMPLETED"]})) == []

    # An abdominal ultrasound ordered for the patient fulfils the first: linked by the clock's
    # tracking, completed when that exam is final, nobody clicking.
    again = await placed(db, "REF01", "USABD", "NORTH")
    assert await db.run(lambda uow: timed.track_follow_ups(uow=uow)) != ([], [])
    (node,) = [e["node"] for e in (await listed(api, filter={"site": "NORTH"}))["edges"]]
    assert node["fulfilledBy"] == {"accessionNumber": again.accession_number}
    assert node["status"] == "OPEN"
    await drive(db, again, ExamStatus.FINAL)
    await db.run(lambda uow: timed.track_follow_ups(uow=uow))
    assert ids(await listed(api, filter={"status": ["COMPLETED"]})) == [us["followUp"]["id"]]
    # Another referrer does not see that exam through the follow-up.
    assert (
        ids(await listed(api, actor=("REF02", "referrer"), filter={"status": ["COMPLETED"]})) == []
    )

    # Two weeks and a day later the CT one is overdue; the completed one is not.
    clock.advance(weeks=2, days=1)
    overdue = await listed(api, filter={"overdue": True})
    assert ids(overdue) == [ct["followUp"]["id"]] and overdue["edges"][0]["node"]["overdue"]
    assert ids(await listed(api, filter={"overdue": False})) == [us["followUp"]["id"]]


async def test_a_bad_cursor_or_page_size_is_a_typed_error(api: Api) -> None:
    await reference(api.db)
    for variables, expected in [
        ({"first": 20, "after": "not-a-cursor"}, ("after", "INVALID_CURSOR")),
        ({"first": 1000}, ("first", "OUT_OF_RANGE")),
    ]:
        body = await api.graphql(LIST, variables)
        (error,) = body["errors"]  # type: ignore[misc]
        assert [(f["field"], f["code"]) for f in error["extensions"]["fields"]] == [expected]


COMPLETE = """
mutation($input: CompleteFollowUpInput!) {
  completeFollowUp(input: $input) {
    __typename
    ... on FollowUpCompleted { followUp { status } }
    ... on NotFound { entity field }
  }
}"""


async def test_only_a_caller_who_sees_the_exam_completes_its_follow_up(api: Api) -> None:
    db = api.db
    await reference(db)
    exam = await drive(db, await placed(db, "REF01", "USABD", "NORTH"), ExamStatus.FINAL)
    recorded = await record(
        api, exam, procedureCode="USABD", interval={"count": 1, "unit": "YEARS"}
    )
    given = {"input": {"followUpId": recorded["followUp"]["id"]}}

    other = await api.data(COMPLETE, given, actor=("REF02", "referrer"))
    assert other["completeFollowUp"] == {
        "__typename": "NotFound",
        "entity": "follow-up",
        "field": "input.followUpId",
    }
    own = await api.data(COMPLETE, given, actor=("REF01", "referrer"))
    assert own["completeFollowUp"] == {
        "__typename": "FollowUpCompleted",
        "followUp": {"status": "COMPLETED"},
    }
