"""FHIR R4 at /fhir over real HTTP: every resource read, searched and paged, the scopes of each
role, orders created through placeOrder, refusals as OperationOutcomes, and the audit trail.
Every body radflow sends is parsed again by the model library here."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from fhir.resources.R4B import get_fhir_model_class

from domain.db import Database
from domain.enums import CriticalLevel, ExamStatus, PatientClass, Priority, Role
from domain.lifecycle import Actor
from domain.models import Exam
from domain.services import orders, reading, worklists
from interfaces.fhir.resources import RESOURCES
from interfaces.fhir.scopes import smart_scopes
from tests.conftest import Api, token_for
from tests.factories import SUPERVISOR, count_rows, drive, order, reference

ADMIN = ("admin", "admin")
JSON = "application/fhir+json"
Caller = tuple[str, str] | None


def auth(actor: Caller, *, phi: bool | None = None) -> dict[str, str]:
    return {} if actor is None else {"Authorization": f"Bearer {token_for(*actor, phi=phi)}"}


def valid(body: dict[str, Any]) -> dict[str, Any]:
    """The body, after the model library accepted it (and each resource a Bundle holds)."""
    get_fhir_model_class(body["resourceType"]).model_validate(body)
    for entry in body.get("entry", []):
        get_fhir_model_class(entry["resource"]["resourceType"]).model_validate(entry["resource"])
    return body


async def get(
    api: Api, path: str, actor: Caller = ADMIN, *, status: int = 200, phi: bool | None = None
) -> dict[str, Any]:
    response = await api.client.get(f"/fhir/{path}", headers=auth(actor, phi=phi))
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/fhir+json")
    return valid(response.json())


def ids(bundle: dict[str, Any]) -> list[str]:
    return [e["resource"]["id"] for e in bundle.get("entry", [])]


def link(bundle: dict[str, Any], relation: str) -> str | None:
    return next((x["url"] for x in bundle["link"] if x["relation"] == relation), None)


async def patient_id(db: Database, mrn: str) -> int:
    return int(
        await db.read(
            lambda s: s.scalar(sa.text("SELECT id FROM patients WHERE mrn = :m").bindparams(m=mrn))
        )
    )


async def mammogram_amended(db: Database) -> Exam:
    """A screening mammogram read by a breast radiologist: BI-RADS and density coded, critical,
    signed final and then amended."""
    exam = await order(db, procedure="MGSCREEN", site="NORTH")
    exam = await drive(db, exam, ExamStatus.READY_FOR_READ, procedure="MGSCREEN")
    reader = Actor("RAD07", Role.RADIOLOGIST)
    pk = exam.id
    assert pk is not None
    steps: list[Any] = [
        lambda uow: worklists.start_shift(
            uow=uow,
            actor=SUPERVISOR,
            radiologist_code="RAD07",
            site_code="NORTH",
            ends_at=uow.now + timedelta(hours=8),
        ),
        lambda uow: worklists.pin_assignment(
            uow=uow, actor=SUPERVISOR, exam_id=pk, radiologist_code="RAD07", reason="test"
        ),
        lambda uow: reading.open_read(uow=uow, actor=reader, exam_id=pk),
        lambda uow: reading.save_report_draft(
            uow=uow,
            actor=reader,
            exam_id=pk,
            sections={
                "clinical": {"indication": "Screening"},
                "technique": {"technique": "Tomosynthesis"},
                "findings": {"density": "C", "findings": "Spiculated mass", "birads": "5"},
            },
            impression="Highly suspicious mass, left breast.",
            critical_level=CriticalLevel.URGENT,
        ),
        lambda uow: reading.sign_final(uow=uow, actor=reader, exam_id=pk),
        lambda uow: reading.add_addendum(
            uow=uow, actor=reader, exam_id=pk, text="Compared with 2024: new."
        ),
    ]
    for step in steps:
        await db.run(step)
    return exam


async def test_metadata_claims_exactly_the_searches_that_work(api: Api, db: Database) -> None:
    await reference(db)
    statement = await get(api, "metadata", None)  # public: it holds no patient data
    assert statement["fhirVersion"] == "4.0.1" and statement["kind"] == "instance"
    served = {r["type"]: r for r in statement["rest"][0]["resource"]}
    assert set(served) == {*RESOURCES, "Subscription"}
    hooks = served.pop("Subscription")
    assert {i["code"] for i in hooks["interaction"]} == {"create", "read", "search-type", "delete"}
    samples = {"token": "1", "string": "a", "date": "ge2026-01-01", "reference": "1"}
    statuses = {
        "ServiceRequest": "active",
        "DiagnosticReport": "final",
        "ImagingStudy": "available",
        "Appointment": "booked",
    }
    for name, resource in served.items():
        creates = {i["code"] for i in resource["interaction"]} == {"read", "search-type", "create"}
        assert creates == (name == "ServiceRequest")
        for parameter in resource["searchParam"]:
            value = samples[parameter["type"]]
            value = statuses.get(name, value) if parameter["name"] == "status" else value
            await get(api, f"{name}?{parameter['name']}={value}")
        refused = await get(api, f"{name}?colour=blue", status=400)
        assert refused["issue"][0]["code"] == "not-supported"
    assert (await get(api, "Observation", status=404))["resourceType"] == "OperationOutcome"
    response = await api.client.post("/fhir/Patient", json={}, headers=auth(ADMIN))
    assert response.status_code == 405 and valid(response.json())["issue"][0]["code"]


async def test_a_signed_report_reaches_every_resource_linked_and_valid(
    api: Api, db: Database
) -> None:
    await reference(db)
    exam = await mammogram_amended(db)
    key = str(exam.id)
    request = await get(api, f"ServiceRequest/{key}")
    assert request["status"] == "completed" and request["intent"] == "order"
    assert {i["type"]["coding"][0]["code"] for i in request["identifier"]} == {"PLAC", "ACSN"}
    assert request["code"]["coding"][0]["code"] == "MGSCREEN"
    patient = await get(api, request["subject"]["reference"])
    assert patient["identifier"][0]["value"] == "MRN000001" and patient["name"][0]["family"]

    report = await get(api, f"DiagnosticReport/{key}")
    assert report["status"] == "amended"
    assert report["conclusion"] == "Highly suspicious mass, left breast."
    coded = {
        c["coding"][0]["system"].rsplit(":", 1)[1]: c["coding"][0]["code"]
        for c in report["conclusionCode"]
    }
    assert coded == {"BREAST_DENSITY": "C", "BI_RADS": "5", "CRITICAL_LEVEL": "URGENT"}
    assert report["basedOn"] == [{"reference": f"ServiceRequest/{key}"}]
    study = await get(api, report["imagingStudy"][0]["reference"])
    assert study["status"] == "available" and study["numberOfInstances"] == 120
    assert study["modality"][0]["code"] == "MG"
    appointments = await get(api, f"Appointment?based-on=ServiceRequest/{key}")
    assert [e["resource"]["status"] for e in appointments["entry"]] == ["arrived"]

    assert ids(await get(api, "DiagnosticReport?status=amended")) == [key]
    assert ids(await get(api, "DiagnosticReport?status=final")) == []
    preliminary = await drive(db, await order(db), ExamStatus.PRELIMINARY)
    assert ids(await get(api, "DiagnosticReport?status=preliminary,amended")) == [
        key,
        str(preliminary.id),
    ]
    assert (
        ids(await get(api, f"DiagnosticReport?patient=Patient/{patient['id']}&date=lt2026-03-02"))
        == []
    )


async def test_a_search_pages_by_count_with_next_links_and_filters(api: Api, db: Database) -> None:
    await reference(db)
    placed = [await order(db) for _ in range(3)]
    await drive(db, placed[2], ExamStatus.CANCELLED)
    first = await get(api, "ServiceRequest?status=active,revoked&_count=2")
    assert ids(first) == [str(placed[0].id), str(placed[1].id)]
    following = link(first, "next")
    assert following is not None and following.startswith(str(api.client.base_url) + "/fhir/")
    second = valid((await api.client.get(following, headers=auth(ADMIN))).json())
    assert ids(second) == [str(placed[2].id)] and link(second, "next") is None
    assert ids(await get(api, "ServiceRequest?status=revoked")) == [str(placed[2].id)]
    assert len(ids(await get(api, "ServiceRequest?authored=2026-03-02"))) == 3
    assert ids(await get(api, "ServiceRequest?authored=gt2026-03-02")) == []
    mine = await patient_id(db, "MRN000001")
    assert len(ids(await get(api, f"ServiceRequest?patient={mine}"))) == 3
    accession = placed[1].accession_number
    found = await get(api, f"ServiceRequest?identifier=urn:radflow:accession|{accession}")
    assert ids(found) == [str(placed[1].id)]
    assert ids(await get(api, "Patient?identifier=urn:radflow:mrn|MRN000001")) == [str(mine)]
    assert len(ids(await get(api, "Patient?birthdate=ge1900&_count=100"))) == 20
    many = "_id=" + ",".join(["1"] * 101)
    for bad in (
        "_count=0",
        "_count=101",
        "authored=yesterday",
        "status=done",
        "patient=Group/1",
        "patient=99999999999999999999",
        many,
    ):
        outcome = await get(api, f"ServiceRequest?{bad}", status=400)
        assert outcome["issue"][0]["expression"] == [bad.split("=")[0]]


async def test_each_role_sees_only_its_scope_and_each_read_is_audited(
    api: Api, db: Database
) -> None:
    await reference(db)
    own = await order(db)  # REF01's, for MRN000001
    other = await db.run(
        lambda uow: orders.place_order(
            uow=uow,
            actor=Actor("REF02", Role.REFERRER),
            order_source="EPIC",
            placer_order_number="X-1",
            patient_mrn="MRN000002",
            referrer_code=None,
            procedure_code="CTHEAD",
            site_code="MAIN",
            priority=Priority.STAT,
            patient_class=PatientClass.ED,
            indication="Fall",
            icd10_code="S06.0",
        )
    )
    theirs = str(other.exam.id)
    mine, their_patient = await patient_id(db, "MRN000001"), await patient_id(db, "MRN000002")
    referrer, patient = ("REF01", "referrer"), ("MRN000001", "patient")
    for caller in (referrer, patient):
        assert ids(await get(api, "ServiceRequest", caller)) == [str(own.id)]
        assert ids(await get(api, "Patient", caller)) == [str(mine)]
        await get(api, f"ServiceRequest/{theirs}", caller, status=404)
        await get(api, f"Patient/{their_patient}", caller, status=404)
    technologist = ("tech.kim", "technologist")
    assert ids(await get(api, "ServiceRequest", technologist)) == [str(own.id), theirs]

    integration = ("epic.fhir", "integration")
    hidden = await get(api, f"Patient/{mine}", integration)
    assert "name" not in hidden and "birthDate" not in hidden and "telecom" not in hidden
    assert hidden["meta"]["security"][0]["code"] == "REDACTED"
    request = await get(api, f"ServiceRequest/{own.id}", integration)
    assert "display" not in request["subject"]
    refused = await get(api, "Patient?name=Oko", integration, status=403)
    assert refused["issue"][0]["code"] == "forbidden"
    granted = await get(api, "Patient?name=oko", integration, phi=True)
    assert [e["resource"]["name"][0]["family"] for e in granted["entry"]] == ["Okoye"]

    anonymous = await api.client.get("/fhir/Patient")
    assert anonymous.status_code == 401 and anonymous.headers["www-authenticate"].startswith(
        "Bearer"
    )
    assert valid(anonymous.json())["issue"][0]["code"] == "login"
    forged = await api.client.get("/fhir/Patient", headers={"Authorization": "Bearer nope"})
    assert forged.status_code == 401 and valid(forged.json())["issue"][0]["code"] == "login"

    # Audited as GraphQL reads are: who read whose record, and each refusal.
    await get(api, f"Patient/{mine}", ("REF01", "referrer"))
    await get(api, "Patient?name=x", ("epic.fhir", "integration"), status=403)
    await get(api, "ServiceRequest?patient=999999")  # nothing read: nothing to record
    rows = await db.read(
        lambda s: s.execute(
            sa.text(
                "SELECT event_type, action, outcome, user_id, operation, patient_mrns "
                "FROM audit_events ORDER BY id"
            )
        ).all()
    )
    read, denied = rows[-2:]
    assert read[:5] == ("PATIENT_RECORD", "R", "SUCCESS", "REF01", f"FHIR read Patient/{mine}")
    assert "MRN000001" in str(read[5])
    assert denied[:4] == ("SECURITY_ALERT", "R", "FAILURE", "epic.fhir")
    assert denied[4] == "FHIR search Patient?name"  # never the value searched for


def service_request(placer: str = "ORD-1", **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "resourceType": "ServiceRequest",
        "status": "active",
        "intent": "order",
        "priority": "stat",
        "identifier": [{"system": "urn:oid:1.2.3.4", "value": placer}],
        "subject": {"identifier": {"system": "urn:radflow:mrn", "value": "MRN000003"}},
        "requester": {"identifier": {"system": "urn:radflow:referrer", "value": "REF02"}},
        "code": {"coding": [{"system": "urn:radflow:procedure", "code": "CTHEAD"}]},
        "locationCode": [{"coding": [{"system": "urn:radflow:site", "code": "MAIN"}]}],
        "reasonCode": [
            {
                "coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "S06.0"}],
                "text": "Fall",
            }
        ],
        "extension": [
            {
                "url": "urn:radflow:fhir:patient-class",
                "valueCoding": {
                    "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                    "code": "EMER",
                },
            }
        ],
    }
    return body | changes


async def post(
    api: Api, body: Any, actor: Caller = ("epic.fhir", "integration"), **headers: str
) -> tuple[int, dict[str, Any], dict[str, str]]:
    response = await api.client.post(
        "/fhir/ServiceRequest",
        json=body,
        headers={**auth(actor), "Content-Type": "application/fhir+json", **headers},
    )
    return response.status_code, valid(response.json()), dict(response.headers)


async def test_an_order_is_placed_once_and_a_bad_one_is_refused_with_its_path(
    api: Api, db: Database
) -> None:
    await reference(db)
    condition = {"If-None-Exist": "identifier=urn:oid:1.2.3.4|ORD-1"}
    status, created, headers = await post(api, service_request(), **condition)
    assert status == 201, created
    assert headers["location"].endswith(f"/fhir/ServiceRequest/{created['id']}")
    assert created["priority"] == "stat" and created["status"] == "active"
    assert "display" not in created["subject"]  # an integration without PHI
    again, same, _ = await post(api, service_request(), **condition)
    assert (again, same["id"]) == (200, created["id"])
    resent, twice, _ = await post(api, service_request())  # placeOrder's own idempotency
    assert (resent, twice["id"]) == (200, created["id"])
    assert await db.read(count_rows("exams")) == 1
    exam = await db.read(lambda s: s.get(Exam, int(created["id"])))
    assert exam is not None and exam.status == ExamStatus.ORDERED
    assert exam.patient_class == PatientClass.ED and exam.order_source == "urn:oid:1.2.3.4"
    history = await db.read(count_rows("exam_status_history"))
    assert history == 1  # the lifecycle ran: the order is in the exam's history
    by_reference = service_request(
        "ORD-2", subject={"reference": f"Patient/{await patient_id(db, 'MRN000004')}"}
    )
    assert (await post(api, by_reference))[0] == 201

    # A bad order: refused with the FHIRPath of what is wrong, and nothing placed.
    def bad(**changes: Any) -> dict[str, Any]:
        return service_request("BAD-1", **changes)

    cases: list[tuple[dict[str, Any], int, str]] = [
        (
            bad(identifier=[{"system": "urn:x", "value": 7}]),
            400,
            "ServiceRequest.identifier[0].value",
        ),
        (bad(priority="whenever"), 422, "ServiceRequest.priority"),
        (bad(subject=None), 400, "ServiceRequest.subject"),
        (bad(colour="blue"), 400, "ServiceRequest.colour"),
        (bad(identifier=None), 422, "ServiceRequest.identifier"),
        (bad(priority=None), 422, "ServiceRequest.priority"),
        (
            bad(code={"coding": [{"system": "urn:radflow:procedure", "code": "NOPE"}]}),
            422,
            "ServiceRequest.code.coding",
        ),
        (
            bad(
                reasonCode=[
                    {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "nonsense"}]}
                ]
            ),
            422,
            "ServiceRequest.reasonCode.coding",
        ),
        (
            bad(subject={"identifier": {"system": "urn:radflow:mrn", "value": "MRN404"}}),
            422,
            "ServiceRequest.subject",
        ),
        (bad(intent="plan"), 422, "ServiceRequest.intent"),
    ]
    for body, status, path in cases:
        answer, outcome, _ = await post(api, {k: v for k, v in body.items() if v is not None})
        paths = [issue.get("expression") for issue in outcome["issue"]]
        assert answer == status and [path] in paths, outcome
    assert await db.read(count_rows("exams")) == 2  # the two placed above, no more
    status, outcome, _ = await post(api, service_request(), ("RAD03", "radiologist"))
    assert status == 403 and outcome["issue"][0]["code"] == "forbidden"
    response = await api.client.post(
        "/fhir/ServiceRequest", content=b"{", headers={**auth(ADMIN), "Content-Type": "text/plain"}
    )
    assert response.status_code == 415
    response = await api.client.post(
        "/fhir/ServiceRequest", content=b"{", headers={**auth(ADMIN), "Content-Type": JSON}
    )
    assert response.status_code == 400 and valid(response.json())["issue"][0]["code"] == "structure"
    huge = b'{"resourceType": "ServiceRequest", "note": "' + b"x" * 1_100_000 + b'"}'
    response = await api.client.post(
        "/fhir/ServiceRequest", content=huge, headers={**auth(ADMIN), "Content-Type": JSON}
    )
    assert response.status_code == 413 and valid(response.json())["issue"][0]["code"]
    records = await db.read(
        lambda s: s.execute(
            sa.text(
                "SELECT outcome, COUNT(*) FROM audit_events "
                "WHERE operation = 'FHIR create ServiceRequest' AND action = 'C' GROUP BY outcome"
            )
        ).all()
    )
    # Each order audited: the placed and the re-sent in the command's transaction, each
    # refusal with its reason.
    assert dict(records) == {"SUCCESS": 4, "FAILURE": len(cases) + 4}


def docs_table(heading: str) -> dict[str, str]:
    """The first table under a heading of docs/interop.md: its first cell -> its second."""
    text = (Path(__file__).parents[2] / "docs" / "interop.md").read_text()
    lines = text.split(heading, 1)[1].splitlines()
    first = next(n for n, line in enumerate(lines) if line.startswith("|"))
    table: dict[str, str] = {}
    for line in lines[first + 2 :]:  # after the header and its rule
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip("|").split("|")]
        table[cells[0]] = cells[1]
    return table


def test_the_documented_scopes_and_search_parameters_are_the_served_ones() -> None:
    scopes = docs_table("## Security: tokens, scopes, audit")
    for role in Role:
        documented = scopes.get(role.value, "").strip("`").split()
        assert tuple(documented) == smart_scopes(role), role
    searches = docs_table("## Search")
    for name, kind in RESOURCES.items():
        documented = [cell.split("`")[1] for cell in searches[name].split(", ")]
        assert documented == list(kind.parameters), name
