"""Object-level access and PHI: each caller sees their own exams, through every path.

Two exams: A (ordered by REF01 for MRN000001 at NORTH) and B (REF02, MRN000002, MAIN).
Another caller's object gets nothing: null from a lookup, absent from a list, NotFound from
a mutation (never a hint that it exists), and nothing is written.
"""

from __future__ import annotations

from typing import Any

import pytest

from api.relay import to_global_id
from domain.enums import ExamStatus, PatientClass, Priority, Role
from domain.lifecycle import Actor
from domain.models import Exam
from domain.services import orders
from tests.conftest import Api, token_for
from tests.factories import count_rows, drive, reference

pytestmark = pytest.mark.usefixtures("backend")

EXAMS = """{ exams(first: 50) { edges { node { accessionNumber patient { mrn familyName
  phiHidden } } } } }"""
EXAMS_STANDARD = """{ exams(first: 50) { edges { node { accessionNumber status
  patient { mrn familyName givenName birthDate phiHidden exams { accessionNumber } } } } } }"""


async def place(api: Api, referrer: str, mrn: str, site: str) -> Exam:
    placed = await api.db.run(
        lambda uow: orders.place_order(
            uow=uow,
            actor=Actor(referrer, Role.REFERRER),
            order_source="EPIC",
            placer_order_number=f"P-{referrer}-{mrn}",
            patient_mrn=mrn,
            referrer_code=referrer,
            procedure_code="USABD",
            site_code=site,
            priority=Priority.ROUTINE,
            patient_class=PatientClass.OUTPATIENT,
            indication="pain",
            icd10_code="R10.9",
        )
    )
    return placed.exam


@pytest.fixture
async def two(api: Api) -> tuple[Api, Exam, Exam]:
    await reference(api.db)
    a = await place(api, "REF01", "MRN000001", "NORTH")
    b = await place(api, "REF02", "MRN000002", "MAIN")
    return api, a, b


async def as_(
    api: Api, query: str, token: str, variables: dict[str, Any] | None = None
) -> dict[str, Any]:
    response = await api.client.post(
        "/graphql",
        json={"query": query, "variables": variables or {}},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    return body["data"]  # type: ignore[no-any-return]


def accessions(data: dict[str, Any]) -> set[str]:
    return {e["node"]["accessionNumber"] for e in data["exams"]["edges"]}


async def sees(api: Api, token: str, a: Exam, b: Exam) -> set[str]:
    """Which of the two exams the caller reaches by list (both paths), lookup and node id."""
    found = set()
    for query in (EXAMS, EXAMS_STANDARD):
        found |= accessions(await as_(api, query, token))
    listed = set(found)
    for exam in (a, b):
        one = await as_(
            api,
            "query($n: String!) { exam(accessionNumber: $n) { id } }",
            token,
            {"n": exam.accession_number},
        )
        node = await as_(
            api,
            "query($id: ID!) { node(id: $id) { id } }",
            token,
            {"id": to_global_id("Exam", exam.id or 0)},
        )
        # Every path agrees: visible everywhere, or nowhere.
        assert (
            (one["exam"] is not None)
            == (node["node"] is not None)
            == (exam.accession_number in listed)
        ), exam.accession_number
    return found


async def test_a_referrer_sees_the_exams_they_ordered_and_those_patients_only(
    two: tuple[Api, Exam, Exam],
) -> None:
    api, a, b = two
    token = token_for("REF01", "referrer")
    assert await sees(api, token, a, b) == {a.accession_number}
    mine = await as_(api, '{ patient(mrn: "MRN000001") { exams { accessionNumber } } }', token)
    assert [e["accessionNumber"] for e in mine["patient"]["exams"]] == [a.accession_number]
    theirs = await as_(api, '{ patient(mrn: "MRN000002") { mrn } }', token)
    assert theirs["patient"] is None
    other_patient = await as_(
        api,
        "query($id: ID!) { node(id: $id) { id } }",
        token,
        {"id": to_global_id("Patient", b.patient_id)},
    )
    assert other_patient["node"] is None


async def test_a_referrer_cannot_change_another_referrers_exam(two: tuple[Api, Exam, Exam]) -> None:
    api, _, b = two
    before = await api.db.read(count_rows("exam_status_history"))
    result = await as_(
        api,
        """mutation($id: ID!) { cancelExam(input: {examId: $id,
        reason: "x"}) { __typename ... on Error { code } } }""",
        token_for("REF01", "referrer"),
        {"id": to_global_id("Exam", b.id or 0)},
    )
    assert result["cancelExam"] == {"__typename": "NotFound", "code": "NOT_FOUND"}
    assert await api.db.read(count_rows("exam_status_history")) == before


async def test_a_patient_sees_only_their_own_exams_and_record(two: tuple[Api, Exam, Exam]) -> None:
    api, a, b = two
    token = token_for("MRN000002", "patient")
    assert await sees(api, token, a, b) == {b.accession_number}
    assert (await as_(api, '{ patient(mrn: "MRN000001") { mrn } }', token))["patient"] is None
    own = await as_(api, '{ patient(mrn: "MRN000002") { familyName } }', token)
    assert own["patient"]["familyName"]


async def test_a_technologist_sees_the_exams_at_their_sites(two: tuple[Api, Exam, Exam]) -> None:
    api, a, b = two
    assert await sees(api, token_for("tech.lee", "technologist", sites=["MAIN"]), a, b) == {
        b.accession_number
    }
    assert await sees(
        api, token_for("tech.lee", "technologist", sites=["NORTH", "MAIN"]), a, b
    ) == {a.accession_number, b.accession_number}
    assert await sees(api, token_for("tech.lee", "technologist", sites=[]), a, b) == set()


async def test_a_radiologist_sees_their_worklist_and_not_anothers(
    two: tuple[Api, Exam, Exam],
) -> None:
    api, a, b = two
    token = token_for("RAD03", "radiologist")
    assert await sees(api, token, a, b) == set()
    await drive(api.db, a, ExamStatus.IN_INTERPRETATION)  # RAD03 (the factory reader) reads it
    assert await sees(api, token, a, b) == {a.accession_number}
    own = await as_(
        api, '{ worklist(radiologistCode: "RAD03") { exam { accessionNumber } } }', token
    )
    assert [i["exam"]["accessionNumber"] for i in own["worklist"]] == [a.accession_number]
    response = await api.client.post(
        "/graphql",
        json={"query": '{ worklist(radiologistCode: "RAD01") { position } }'},
        headers={"Authorization": f"Bearer {token}"},
    )
    body = response.json()
    assert body["data"] is None and "does not exist" in body["errors"][0]["message"]


async def test_an_integration_sees_ids_and_statuses_but_no_phi_unless_granted(
    two: tuple[Api, Exam, Exam],
) -> None:
    api = two[0]
    for query in (EXAMS, EXAMS_STANDARD):
        hidden = await as_(api, query, token_for("ris.bridge", "integration"))
        patients = [e["node"]["patient"] for e in hidden["exams"]["edges"]]
        assert len(patients) == 2
        assert all(p["mrn"] and p["familyName"] is None and p["phiHidden"] for p in patients)
        granted = await as_(api, query, token_for("ris.bridge", "integration", phi=True))
        patients = [e["node"]["patient"] for e in granted["exams"]["edges"]]
        assert all(p["familyName"] and not p["phiHidden"] for p in patients)
    record = await as_(
        api,
        '{ patient(mrn: "MRN000001") { givenName birthDate phone } }',
        token_for("ris.bridge", "integration"),
    )
    assert record["patient"] == {"givenName": None, "birthDate": None, "phone": None}
