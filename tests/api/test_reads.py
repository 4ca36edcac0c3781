"""Reading the department: no N+1, keyset paging, filters, node lookups, bad input."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import jwt
import pytest
from sqlalchemy import event

from api.auth import DEVELOPMENT_SECRET, mint
from api.relay import to_global_id
from application.settings import Settings
from domain.db import Database
from domain.enums import ExamStatus, PatientClass, Priority, Role
from tests.conftest import Api
from tests.factories import count_rows, drive, order, reference

pytestmark = pytest.mark.usefixtures("backend")

EXAMS_PAGE = """
query($first: Int!, $after: String, $filter: ExamFilter) {
  exams(first: $first, after: $after, filter: $filter) {
    edges { cursor node {
      id accessionNumber status priority orderedAt
      patient { mrn familyName } procedure { code wrvu } site { code } referrer { code }
      report { status impression }
      appointment { startsAt resource { code } }
      assignment { radiologist { code } }
      history { toStatus }
      prepChecklist { code completedAt }
    } }
    pageInfo { hasNextPage endCursor }
  }
}"""


@contextmanager
def statements(db: Database) -> Iterator[list[str]]:
    engine = db.sync_engine or db.async_engine.sync_engine  # type: ignore[union-attr]
    seen: list[str] = []

    def record(*args: object) -> None:
        statement = str(args[2])
        # The outbox relay polls on its own schedule; the audit record is one per request;
        # SQLite's BEGIN opens each read session's transaction (how the loaders' reads fall
        # into sessions varies), it asks nothing of the data.
        if (
            "event_outbox" not in statement
            and "audit_events" not in statement
            and not statement.startswith("BEGIN")
        ):
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


@pytest.fixture
async def busy(api: Api) -> Api:
    await reference(api.db)
    for n in range(56):
        exam = await order(api.db, priority=Priority.STAT if n % 7 == 0 else Priority.ROUTINE)
        if n % 9 == 0:
            await drive(api.db, exam, ExamStatus.SCHEDULED)
        api.db.clock.advance(minutes=1)  # type: ignore[attr-defined]
    return api


async def test_a_50_exam_page_costs_a_fixed_number_of_statements(busy: Api) -> None:
    with statements(busy.db) as small:
        await busy.data(EXAMS_PAGE, {"first": 5})
    with statements(busy.db) as large:
        data = await busy.data(EXAMS_PAGE, {"first": 50})
    assert len(data["exams"]["edges"]) == 50  # type: ignore[index]
    assert len(large) == len(small), "statement count grows with the page: an N+1"
    assert len(large) <= 12, large


async def test_keyset_pages_cover_every_exam_once_in_order(busy: Api) -> None:
    seen: list[str] = []
    after = None
    while True:
        page = (await busy.data(EXAMS_PAGE, {"first": 20, "after": after}))["exams"]
        seen += [e["node"]["accessionNumber"] for e in page["edges"]]  # type: ignore[index]
        if not page["pageInfo"]["hasNextPage"]:  # type: ignore[index]
            break
        after = page["pageInfo"]["endCursor"]  # type: ignore[index]
    assert len(seen) == len(set(seen)) == 56


async def test_filters_combine(busy: Api) -> None:
    data = await busy.data(
        EXAMS_PAGE,
        {
            "first": 100,
            "filter": {
                "priority": ["STAT"],
                "status": ["ORDERED", "SCHEDULED"],
                "modality": ["US"],
                "siteCode": "NORTH",
                "patientMrn": "MRN000001",
            },
        },
    )
    nodes = [e["node"] for e in data["exams"]["edges"]]  # type: ignore[index]
    assert len(nodes) == 8 and all(n["priority"] == "STAT" for n in nodes)
    none = await busy.data(EXAMS_PAGE, {"first": 10, "filter": {"modality": ["MR"]}})
    assert none["exams"]["edges"] == []  # type: ignore[index]


async def test_node_resolves_global_ids_and_ignores_foreign_ones(busy: Api) -> None:
    query = "query($id: ID!) { node(id: $id) { __typename ... on Exam { status } } }"
    found = await busy.data(query, {"id": to_global_id("Exam", 1)})
    assert found["node"] == {"__typename": "Exam", "status": "SCHEDULED"}
    for bad in [to_global_id("Exam", 10**6), to_global_id("Nope", 1), "garbage", ""]:
        assert (await busy.data(query, {"id": bad}))["node"] is None


async def test_patient_timeline(busy: Api) -> None:
    data = await busy.data('{ patient(mrn: "MRN000001") { familyName exams { status } } }')
    assert len(data["patient"]["exams"]) == 56  # type: ignore[index]
    assert (await busy.data('{ patient(mrn: "NOPE") { mrn } }'))["patient"] is None


async def test_catalog_and_slots(busy: Api) -> None:
    data = await busy.data("""{
      procedures(modality: MR) { code turnaroundTargets { priority patientClass minutes }
                                 prepProtocol { code items } }
      modalityResources { code openingHours { weekday opens closes } site { code } }
      radiologists { code subspecialties privileges { site { code } expiresOn } }
      openSlots(procedureCode: "MRBRAIN", from: "2026-03-02T12:00:00Z",
                to: "2026-03-03T12:00:00Z") { startsAt endsAt resource { code } }
    }""")
    assert {p["code"] for p in data["procedures"]} >= {"MRBRAIN", "MRKNEE"}  # type: ignore[union-attr,index]
    slots = data["openSlots"]
    assert slots and all(s["resource"]["code"] == "MR1" for s in slots)  # type: ignore[union-attr,index]


async def test_metrics_from_the_history(busy: Api) -> None:
    exam = await order(busy.db, priority=Priority.URGENT, patient_class=PatientClass.INPATIENT)
    await drive(busy.db, exam, ExamStatus.CLOSED)
    data = await busy.data("""{ metrics(from: "2026-03-01T00:00:00Z", to: "2026-04-01T00:00:00Z")
      { attendance { noShowRate } repeatRate
        turnaround { stage priority minutes { count median } targetBreachRate }
        utilization { resourceCode bookedMinutes usedMinutes } } }""")
    stages = {(t["stage"], t["priority"]) for t in data["metrics"]["turnaround"]}  # type: ignore[index]
    assert ("READY_TO_FINAL", "URGENT") in stages and ("ORDER_TO_SCHEDULED", "URGENT") in stages


BAD_REQUESTS = [
    # (query, variables, what the error must mention)
    ('{ exams(first: "ten") { edges { cursor } } }', None, "Int"),
    ("mutation { placeOrder(input: {}) { __typename } }", None, "orderSource"),
    ("{ exams(first: 1000) { edges { cursor } } }", None, "between 1 and 100"),
    ('{ exams(first: 5, after: "!!") { edges { cursor } } }', None, "cursor"),
    ("{ nope }", None, "nope"),
    ('{ metrics(from: "yesterday", to: "today") { noShowRate } }', None, "DateTime"),
]


@pytest.mark.parametrize(("query", "variables", "mentions"), BAD_REQUESTS)
async def test_bad_requests_get_clear_errors(
    busy: Api, query: str, variables: object, mentions: str
) -> None:
    body = await busy.graphql(query)
    assert body.get("errors"), body
    assert any(mentions in e["message"] for e in body["errors"]), body  # type: ignore[union-attr]


async def test_oversized_and_control_character_input_is_refused_and_writes_nothing(
    busy: Api,
) -> None:
    before = await busy.db.read(count_rows("exams"))
    body = await busy.data(
        """mutation($i: PlaceOrderInput!) { placeOrder(input: $i) {
        __typename ... on ValidationFailed { errors { field code } } } }""",
        {
            "i": {
                "orderSource": "EPIC",
                "placerOrderNumber": "x" * 65,
                "patientMrn": "MRN000001",
                "referrerCode": "REF01",
                "procedureCode": "USABD",
                "siteCode": "NORTH",
                "priority": "ROUTINE",
                "patientClass": "OUTPATIENT",
                "indication": "bad\x07byte",
                "icd10Code": "not-icd",
            }
        },
        actor=("REF01", "referrer"),
    )
    errors = {(e["field"], e["code"]) for e in body["placeOrder"]["errors"]}  # type: ignore[index]
    assert errors == {
        ("input.placerOrderNumber", "TOO_LONG"),
        ("input.indication", "CONTROL_CHARACTERS"),
        ("input.icd10Code", "INVALID_FORMAT"),
    }
    assert await busy.db.read(count_rows("exams")) == before


async def test_unknown_references_in_an_order_name_the_field(busy: Api) -> None:
    body = await busy.data(
        """mutation($i: PlaceOrderInput!) { placeOrder(input: $i) {
        __typename ... on NotFound { field entity } } }""",
        {
            "i": {
                "orderSource": "EPIC",
                "placerOrderNumber": "U-1",
                "patientMrn": "MRN000001",
                "referrerCode": "REF01",
                "procedureCode": "NOPE",
                "siteCode": "NORTH",
                "priority": "ROUTINE",
                "patientClass": "OUTPATIENT",
                "indication": "x",
                "icd10Code": "R51",
            }
        },
        actor=("REF01", "referrer"),
    )
    assert body["placeOrder"] == {
        "__typename": "NotFound",
        "field": "input.procedureCode",
        "entity": "procedure",
    }


async def test_internal_errors_are_masked(busy: Api) -> None:
    def broken(session: object) -> None:
        raise RuntimeError("secret detail: password=hunter2")

    original = busy.db.read

    async def failing_read(fn: object) -> object:
        return await original(broken)

    busy.db.read = failing_read  # type: ignore[method-assign]
    try:
        body = await busy.graphql("{ sites { code } }")
    finally:
        busy.db.read = original  # type: ignore[method-assign]
    assert body["errors"][0]["message"] == "Internal server error"  # type: ignore[index]
    assert "hunter2" not in str(body)


BAD_TOKENS = {
    "not bearer": "Basic abc",
    "garbage": "Bearer not.a.token",
    "forged": "Bearer "
    + jwt.encode(
        {"sub": "x", "role": "admin", "iss": "radflow", "aud": "radflow-api", "exp": 4_000_000_000},
        "someone-elses-secret-of-a-decent-length",
        algorithm="HS256",
    ),
    "expired": "Bearer "
    + mint(role=Role.ADMIN, subject="x", settings=Settings(), lifetime=timedelta(seconds=-1)),
    "wrong audience": "Bearer "
    + mint(role=Role.ADMIN, subject="x", settings=Settings(RADFLOW_JWT_AUDIENCE="elsewhere")),
    "unknown role": "Bearer "
    + jwt.encode(
        {"sub": "x", "role": "king", "iss": "radflow", "aud": "radflow-api", "exp": 4_000_000_000},
        DEVELOPMENT_SECRET,
        algorithm="HS256",
    ),
}


@pytest.mark.parametrize("header", list(BAD_TOKENS.values()), ids=list(BAD_TOKENS))
async def test_bad_tokens_are_refused_with_401(busy: Api, header: str) -> None:
    response = await busy.client.post(
        "/graphql", json={"query": "{ sites { code } }"}, headers={"Authorization": header}
    )
    assert response.status_code == 401
    assert response.text


async def test_anonymous_callers_take_no_step(busy: Api) -> None:
    body = await busy.graphql(
        """mutation { checkIn(input: {examId: "RXhhbTox"}) {
        __typename } }""",
        actor=None,
    )
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"  # type: ignore[index]
