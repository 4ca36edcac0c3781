"""Who may place which order, and what a re-sent order answers to whom.

A referrer orders as themselves; schedulers, integrations and admins order on a referrer's
behalf (docs/security.md). A re-sent order (same source and placer number) is recognised
within the scope of whoever placed it: a referrer's own orders, or the department's order
sources for callers who see every exam. A placer number from another scope answers exactly as
an unused one would, so guessing one shows nothing of the other exam.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from domain.enums import PatientClass, Priority, Role
from domain.lifecycle import Actor
from domain.models import Exam
from domain.services import orders
from tests.conftest import Api
from tests.factories import count_rows, reference

pytestmark = pytest.mark.usefixtures("backend")

PLACE = """mutation($i: PlaceOrderInput!) { placeOrder(input: $i) { __typename
  ... on OrderPlaced { created exam { accessionNumber status
      patient { mrn familyName phone } referrer { code } } }
  ... on Error { code message field }
  ... on ValidationFailed { errors { field code message } } } }"""


def order_input(**overrides: Any) -> dict[str, Any]:
    return {
        "orderSource": "EPIC",
        "placerOrderNumber": "ORD000002",
        "patientMrn": "MRN000002",
        "procedureCode": "USABD",
        "siteCode": "NORTH",
        "priority": "ROUTINE",
        "patientClass": "OUTPATIENT",
        "indication": "pain",
        "icd10Code": "R10.9",
        **overrides,
    }


@pytest.fixture
async def theirs(api: Api) -> tuple[Api, Exam]:
    """REF02's order ORD000002 from the EPIC source, for MRN000002."""
    await reference(api.db)
    placed = await api.db.run(
        lambda uow: orders.place_order(
            uow=uow,
            actor=Actor("REF02", Role.REFERRER),
            order_source="EPIC",
            placer_order_number="ORD000002",
            patient_mrn="MRN000002",
            referrer_code=None,
            procedure_code="USABD",
            site_code="NORTH",
            priority=Priority.ROUTINE,
            patient_class=PatientClass.OUTPATIENT,
            indication="pain",
            icd10_code="R10.9",
        )
    )
    return api, placed.exam


async def test_another_referrers_placer_number_answers_as_an_unused_one(
    theirs: tuple[Api, Exam],
) -> None:
    api, exam = theirs
    referrer = ("REF01", "referrer")
    first = (await api.data(PLACE, {"i": order_input()}, actor=referrer))["placeOrder"]
    # A new order of REF01's own, nothing of REF02's exam.
    assert first["__typename"] == "OrderPlaced" and first["created"] is True
    assert first["exam"]["accessionNumber"] != exam.accession_number
    assert first["exam"]["referrer"] == {"code": "REF01"}
    assert first["exam"]["status"] == "ORDERED"
    # Sent again, it is REF01's re-sent order now.
    again = (await api.data(PLACE, {"i": order_input()}, actor=referrer))["placeOrder"]
    assert again["created"] is False
    assert again["exam"]["accessionNumber"] == first["exam"]["accessionNumber"]
    # And REF02's exam is still theirs alone.
    seen = await api.data(
        "query($n: String!) { exam(accessionNumber: $n) { id } }",
        {"n": exam.accession_number},
        actor=referrer,
    )
    assert seen["exam"] is None


async def test_another_referrers_placer_number_with_another_procedure_names_nothing(
    theirs: tuple[Api, Exam],
) -> None:
    api, exam = theirs
    body = await api.graphql(
        PLACE,
        {"i": order_input(procedureCode="CTHEAD", siteCode="MAIN")},
        actor=("REF01", "referrer"),
    )
    assert exam.accession_number not in str(body)
    assert body["data"]["placeOrder"]["created"] is True  # type: ignore[index]


async def test_a_reused_placer_number_is_named_to_a_caller_who_sees_the_exam(api: Api) -> None:
    await reference(api.db)
    integration = ("epic.interface", "integration")
    placed = (
        await api.data(
            PLACE, {"i": order_input(referrerCode="REF02", orderSource="HIS")}, actor=integration
        )
    )["placeOrder"]
    assert placed["created"] is True
    reused = (
        await api.data(
            PLACE,
            {
                "i": order_input(
                    referrerCode="REF02", orderSource="HIS", procedureCode="CTHEAD", siteCode="MAIN"
                )
            },
            actor=integration,
        )
    )["placeOrder"]
    assert reused["__typename"] == "ValidationFailed"
    [error] = reused["errors"]
    assert error["code"] == "PLACER_ORDER_REUSED"
    assert placed["exam"]["accessionNumber"] in error["message"]


async def test_a_referrer_orders_as_themselves(api: Api) -> None:
    await reference(api.db)
    before = await api.db.read(count_rows("exams"))
    body = await api.graphql(
        PLACE, {"i": order_input(referrerCode="REF02")}, actor=("REF01", "referrer")
    )
    assert body["data"] is None
    [error] = body["errors"]  # type: ignore[misc]
    assert error["extensions"]["code"] == "FORBIDDEN"
    assert "REF02" not in error["message"]
    assert await api.db.read(count_rows("exams")) == before
    own = (
        await api.data(PLACE, {"i": order_input(referrerCode="REF01")}, actor=("REF01", "referrer"))
    )["placeOrder"]
    assert own["exam"]["referrer"] == {"code": "REF01"}


@pytest.mark.parametrize("role", ["scheduler", "integration", "admin"])
async def test_schedulers_integrations_and_admins_order_on_a_referrers_behalf(
    api: Api, role: str
) -> None:
    await reference(api.db)
    caller = ("someone", role)
    placed = (await api.data(PLACE, {"i": order_input(referrerCode="REF02")}, actor=caller))[
        "placeOrder"
    ]
    assert placed["exam"]["referrer"] == {"code": "REF02"}
    unnamed = (
        await api.data(PLACE, {"i": order_input(placerOrderNumber="ORD000003")}, actor=caller)
    )["placeOrder"]
    assert unnamed["__typename"] == "ValidationFailed"
    assert [(e["field"], e["code"]) for e in unnamed["errors"]] == [
        ("input.referrerCode", "REQUIRED")
    ]


def test_the_role_matrix_in_the_docs_names_who_may_order_on_a_referrers_behalf() -> None:
    row = next(
        line
        for line in DOCS.read_text().splitlines()
        if line.startswith("| `Mutation.placeOrder` on a referrer's behalf")
    )
    cells = [c.strip() for c in row.strip("|").split("|")[1:]]
    allowed = {role for role, cell in zip(DOC_COLUMNS, cells, strict=True) if cell == "✓"}
    assert allowed == orders.ORDER_ON_BEHALF
    assert {Role.REFERRER} == orders.ORDERING - orders.ORDER_ON_BEHALF


DOCS = Path(__file__).parents[2] / "docs" / "security.md"
DOC_COLUMNS = [
    Role.REFERRER,
    Role.SCHEDULER,
    Role.PATIENT,
    Role.TECHNOLOGIST,
    Role.RADIOLOGIST,
    Role.SUPERVISOR,
    Role.INTEGRATION,
    Role.ADMIN,
]
