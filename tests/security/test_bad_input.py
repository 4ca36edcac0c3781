"""A catalogue of hostile input: each gets a clear error, nothing is written, the server stays up.

Every case runs on SQLite and PostgreSQL (NUL bytes and huge parameter lists fail differently
there). Rows are counted in every table but the audit log (denied attempts are audited, by
design) and the event outbox before and after each request.
"""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from typing import Any

import jwt
import pytest
import sqlalchemy as sa
from sqlmodel import SQLModel

from api.auth import DEVELOPMENT_SECRET, mint
from api.relay import to_global_id
from application.settings import Settings
from domain.enums import ExamStatus, Role
from tests.conftest import Api, token_for
from tests.factories import count_rows, drive, order, reference

pytestmark = pytest.mark.usefixtures("backend")

ADMIN = ("admin.kim", "admin")
PLACE_ORDER = """mutation($i: PlaceOrderInput!) { placeOrder(input: $i) {
  __typename ... on ValidationFailed { errors { field code } } ... on NotFound { field } } }"""
ORDER = {
    "orderSource": "EPIC",
    "placerOrderNumber": "B-1",
    "patientMrn": "MRN000001",
    "referrerCode": "REF01",
    "procedureCode": "USABD",
    "siteCode": "NORTH",
    "priority": "ROUTINE",
    "patientClass": "OUTPATIENT",
    "indication": "Pain",
    "icd10Code": "R10.9",
}
UNCOUNTED = {"audit_events", "event_outbox"}


@pytest.fixture
async def department(api: Api) -> Api:
    await reference(api.db)
    await drive(api.db, await order(api.db), ExamStatus.SCHEDULED)
    return api


async def rows(api: Api) -> dict[str, int]:
    tables = [t.name for t in SQLModel.metadata.sorted_tables if t.name not in UNCOUNTED]
    return {t: await api.db.read(count_rows(t)) for t in tables}


async def post(
    api: Api, content: bytes, *, token: str | None = None, content_type: str = "application/json"
) -> tuple[int, str]:
    headers = {
        "Content-Type": content_type,
        "Authorization": f"Bearer {token or token_for(*ADMIN)}",
    }
    response = await api.client.post("/graphql", content=content, headers=headers)
    return response.status_code, response.text


async def still_up(api: Api) -> None:
    assert (await api.data("{ sites { code } }", actor=ADMIN))["sites"]


def body(query: str, variables: dict[str, Any] | None = None) -> bytes:
    return json.dumps({"query": query, "variables": variables or {}}).encode()


def order_with(**changes: Any) -> bytes:
    return body(PLACE_ORDER, {"i": {**ORDER, **changes}})


# (case, request body, HTTP status, what the answer must say)
HTTP_REFUSALS = [
    ("malformed JSON", b'{"query": "{ sites { code } }"', 400, "Unable to parse"),
    ("JSON string", b'"{ sites { code } }"', 400, "must be an object"),
    ("JSON number", b"42", 400, "must be an object"),
    ("JSON null", b"null", 400, "must be an object"),
    ("batch", b'[{"query": "{ __typename }"}]', 400, "Batching is not enabled"),
    ("not UTF-8", b'{"query": "{ sites { code } }", "variables": {"x": "\xff\xfe"}}', 400, "UTF-8"),
    (
        "deeply nested JSON",
        b'{"query": "{ __typename }", "variables": {"x": '
        + b"[" * 100_000
        + b"]" * 100_000
        + b"}}",
        400,
        "nested too deeply",
    ),
    ("query not a string", b'{"query": 5}', 400, "must be a string"),
    (
        "variables not an object",
        b'{"query": "{ __typename }", "variables": [1]}',
        400,
        "must be an object",
    ),
    ("huge body", order_with(indication="x" * 2_000_000), 413, "larger than"),
    ("NUL in a variable", order_with(indication="bad\x00byte"), 400, "NUL"),
    (
        "NUL in a lookup",
        body("query($m: String!) { patient(mrn: $m) { mrn } }", {"m": "MRN\x00"}),
        400,
        "NUL",
    ),
    (
        "lone surrogate",
        b'{"query": "query($m: String!) { patient(mrn: $m) { mrn } }", '
        b'"variables": {"m": "\\ud800"}}',
        400,
        "surrogate",
    ),
]


@pytest.mark.parametrize(
    ("content", "status", "says"), [c[1:] for c in HTTP_REFUSALS], ids=[c[0] for c in HTTP_REFUSALS]
)
async def test_bodies_that_are_not_a_graphql_request_are_refused(
    department: Api, content: bytes, status: int, says: str
) -> None:
    before = await rows(department)
    code, text = await post(department, content)
    assert code == status and says in text, text
    assert await rows(department) == before
    await still_up(department)


# (case, request body, what an error must say): the answer is a GraphQL error, no data.
GRAPHQL_ERRORS = [
    (
        "string for an Int",
        body("query($n: Int!) { exams(first: $n) { edges { cursor } } }", {"n": "ten"}),
        "Int cannot represent",
    ),
    ("Int overflow", body("{ exams(first: 2147483648) { edges { cursor } } }"), "32-bit"),
    (
        "float for an Int",
        body("query($n: Int!) { exams(first: $n) { edges { cursor } } }", {"n": 1.5}),
        "Int cannot represent",
    ),
    ("unknown enum value", order_with(priority="routine"), "Priority"),
    ("object for a String", order_with(indication={"$gt": ""}), "String cannot represent"),
    (
        "missing required field",
        body(PLACE_ORDER, {"i": {"orderSource": "EPIC"}}),
        "placerOrderNumber",
    ),
    (
        "time without offset",
        body('{ metrics(from: "2026-01-01T00:00:00", to: "2026-02-01T00:00:00") { noShowRate } }'),
        "UTC offset",
    ),
    (
        "time out of range",
        body(
            '{ openSlots(procedureCode: "MRBRAIN", '
            'from: "9999-12-31T00:00:00Z", to: "9999-12-31T23:00:00Z") '
            "{ startsAt } }"
        ),
        "between the years",
    ),
    ("NUL in a literal", body('{ exam(accessionNumber: "A\\u0000") { id } }'), "NUL"),
    (
        "deeply nested literal",
        body(
            "{ exams(filter: {status: "
            + "[" * 600
            + "ORDERED"
            + "]" * 600
            + "}) { edges { cursor } } }"
        ),
        "nested too deeply",
    ),
    (
        "GraphQL injection in a literal",
        body('{ patient(mrn: "x") { mrn } } mutation { rebalanceNow { __typename } }'),
        "anonymous operation",
    ),
    ("too many tokens", body("{ sites { " + "code " * 5000 + "} }"), "tokens"),
    ("page too large", body("{ exams(first: 1000) { edges { cursor } } }"), "between 1 and"),
    (
        "bad cursor",
        body('{ exams(first: 5, after: "\' OR 1=1 --") { edges { cursor } } }'),
        "cursor",
    ),
]


@pytest.mark.parametrize(
    ("content", "says"), [c[1:] for c in GRAPHQL_ERRORS], ids=[c[0] for c in GRAPHQL_ERRORS]
)
async def test_ill_typed_and_oversized_operations_get_a_clear_graphql_error(
    department: Api, content: bytes, says: str
) -> None:
    before = await rows(department)
    code, text = await post(department, content)
    assert code == 200, text
    answer = json.loads(text)
    messages = " | ".join(e["message"] for e in answer["errors"])
    assert says in messages, answer
    assert not any(
        (e.get("extensions") or {}).get("code") == "INTERNAL_SERVER_ERROR" for e in answer["errors"]
    )
    assert not answer.get("data") or all(v is None for v in answer["data"].values())
    assert await rows(department) == before
    await still_up(department)


async def test_a_huge_list_within_the_body_limit_is_answered(department: Api) -> None:
    """40,000 repeats of one status bind each value once, under PostgreSQL's 32,767."""
    statuses = ["SCHEDULED"] * 40_000
    data = await department.data(
        """query($s: [ExamStatus!]) {
        exams(first: 10, filter: {status: $s}) { edges { node { status } } } }""",
        {"s": statuses},
        actor=ADMIN,
    )
    assert [e["node"]["status"] for e in data["exams"]["edges"]] == ["SCHEDULED"]  # type: ignore[index]


TYPED_REFUSALS = [
    # (case, input changes, the ValidationFailed entries or NotFound field expected)
    ("too long", {"placerOrderNumber": "x" * 65}, {("input.placerOrderNumber", "TOO_LONG")}),
    (
        "control characters",
        {"indication": "bell\x07 and escape\x1b[2J"},
        {("input.indication", "CONTROL_CHARACTERS")},
    ),
    ("blank", {"indication": "   "}, {("input.indication", "REQUIRED")}),
    ("SQL-shaped code", {"procedureCode": "USABD'; DROP TABLE exams; --"}, "input.procedureCode"),
    (
        "GraphQL-shaped code",
        {"siteCode": 'NORTH" } } mutation { rebalanceNow { __typename } }'},
        "input.siteCode",
    ),
    ("unicode lookalike code", {"referrerCode": "REF\uff101"}, "input.referrerCode"),
]


@pytest.mark.parametrize(
    ("changes", "expected"), [c[1:] for c in TYPED_REFUSALS], ids=[c[0] for c in TYPED_REFUSALS]
)
async def test_bad_values_in_a_mutation_are_typed_errors_and_write_nothing(
    department: Api, changes: dict[str, str], expected: object
) -> None:
    before = await rows(department)
    # As a scheduler, who may name any referrer (a referrer may name only themselves).
    result = (
        await department.data(
            PLACE_ORDER, {"i": {**ORDER, **changes}}, actor=("frontdesk", "scheduler")
        )
    )["placeOrder"]
    if isinstance(expected, str):
        assert result == {"__typename": "NotFound", "field": expected}
    else:
        assert result["__typename"] == "ValidationFailed"  # type: ignore[index]
        assert {(e["field"], e["code"]) for e in result["errors"]} == expected  # type: ignore[index]
    assert await rows(department) == before
    await still_up(department)


async def test_injection_shaped_lookups_find_nothing_and_leave_the_tables_alone(
    department: Api,
) -> None:
    before = await rows(department)
    for text in [
        "' OR '1'='1",
        "MRN000001' --",
        "x'); DELETE FROM exams; --",
        '") { mrn } } mutation { rebalanceNow { __typename } } #',
    ]:
        data = await department.data(
            """query($t: String!) { patient(mrn: $t) { mrn }
            exam(accessionNumber: $t) { id }
            exams(first: 5, filter: {patientMrn: $t, siteCode: $t}) { edges { cursor } } }""",
            {"t": text},
            actor=ADMIN,
        )
        assert data == {"patient": None, "exam": None, "exams": {"edges": []}}
    assert await rows(department) == before


async def test_unicode_text_is_data_and_round_trips(department: Api) -> None:
    text = "Douleur abdominale — 腹痛 — ألم 🩻 (e\u0301)"
    result = (
        await department.data(
            """mutation($i: PlaceOrderInput!) { placeOrder(input: $i) {
        __typename ... on OrderPlaced { exam { accessionNumber } } } }""",
            {"i": {**ORDER, "placerOrderNumber": "B-unicode", "indication": text}},
            actor=("REF01", "referrer"),
        )
    )["placeOrder"]
    assert result["__typename"] == "OrderPlaced"  # type: ignore[index]
    accession = result["exam"]["accessionNumber"]  # type: ignore[index]
    stored = await department.db.read(
        lambda s: s.scalar(
            sa.text("SELECT indication FROM exams WHERE accession_number = :a"), {"a": accession}
        )
    )
    assert stored == text


def _claims(**changes: object) -> dict[str, object]:
    return {
        "sub": "admin.kim",
        "role": "admin",
        "iss": "radflow",
        "aud": "radflow-api",
        "exp": 4_000_000_000,
        **changes,
    }


BAD_TOKENS = {
    "forged": jwt.encode(_claims(), "someone-elses-secret-of-a-decent-length", algorithm="HS256"),
    "expired": mint(
        role=Role.ADMIN, subject="admin.kim", settings=Settings(), lifetime=timedelta(seconds=-1)
    ),
    "wrong audience": jwt.encode(_claims(aud="elsewhere"), DEVELOPMENT_SECRET, algorithm="HS256"),
    "wrong issuer": jwt.encode(_claims(iss="evil"), DEVELOPMENT_SECRET, algorithm="HS256"),
    "alg none": jwt.encode(_claims(), None, algorithm="none"),  # type: ignore[arg-type]
    "no expiry": jwt.encode(
        {k: v for k, v in _claims().items() if k != "exp"}, DEVELOPMENT_SECRET, algorithm="HS256"
    ),
    "unknown role": jwt.encode(_claims(role="root"), DEVELOPMENT_SECRET, algorithm="HS256"),
    "huge subject": jwt.encode(_claims(sub="x" * 10_000), DEVELOPMENT_SECRET, algorithm="HS256"),
    "garbage": "not.a.token",
}


@pytest.mark.parametrize("token", list(BAD_TOKENS.values()), ids=list(BAD_TOKENS))
async def test_bad_tokens_get_401_and_write_nothing(department: Api, token: str) -> None:
    before = await rows(department)
    code, text = await post(department, order_with(placerOrderNumber="B-token"), token=token)
    assert code == 401 and text
    assert await rows(department) == before
    await still_up(department)


async def test_other_ids_resolve_to_nothing_not_a_crash(department: Api) -> None:
    exam_id = to_global_id("Exam", 1)
    ids = [
        to_global_id("Site", 1),
        to_global_id("Exam", 10**9),
        to_global_id("Exam", -1),
        base64.b64encode(b"Exam:1; DROP TABLE exams").decode(),
        "RXhhbTox" * 50,
    ]
    before = await rows(department)
    for caller in [("MRN000002", "patient"), ("REF02", "referrer"), ADMIN]:
        answer = await department.graphql(
            "query($id: ID!) { node(id: $id) { __typename ... on Exam { status } } }",
            {"id": exam_id},
            actor=caller,
        )
        codes = {(e.get("extensions") or {}).get("code") for e in answer.get("errors", [])}  # type: ignore[union-attr]
        assert "INTERNAL_SERVER_ERROR" not in codes, answer
        if caller != ADMIN:  # another person's exam: nothing, or refused
            node = (answer.get("data") or {}).get("node")  # type: ignore[union-attr]
            assert node is None or codes == {"FORBIDDEN"}, answer
    for other in ids:
        result = (
            await department.data(
                """mutation($id: ID!) { checkIn(input: {examId: $id}) {
                 __typename ... on Error { field } } }""",
                {"id": other},
                actor=ADMIN,
            )
        )["checkIn"]
        assert result["__typename"] in {"NotFound", "ValidationFailed"}, result  # type: ignore[index]
        assert result["field"] == "input.examId"  # type: ignore[index]
    assert await rows(department) == before
