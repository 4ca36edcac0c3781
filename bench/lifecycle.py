"""Drive exams through every stage, placeOrder to closeExam, via GraphQL over in-process ASGI.

    python -m bench.lifecycle [--exams 2000] [--concurrency 8] [--database-url URL]

Each exam takes 21 mutations: order, booking, confirmation, arrival, three prep items,
acquisition start and end, metadata validation, storage, assignment, opening, draft,
preliminary and final signatures, result notification and acknowledgement, follow-up,
survey and closing. Last line: {"exams_per_s": .., "mutations_per_s": .., "backend": ..}
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from api.app import create_app, freeze_startup_heap
from api.auth import mint
from application.demo import seed_reference
from application.settings import Settings
from bench._asgi import AsgiClient
from bench._data import create_schema, reset_postgres
from domain.db import Database
from domain.enums import Role
from domain.lifecycle import Actor
from domain.services import worklists
from domain.types import utcnow

PROCEDURE, RESOURCE, SITE, READER = "CTCHEST", "CT1", "MAIN", "RAD05"
PREP = ["ALLERGY_CHECK", "EGFR_CHECK", "PREGNANCY_CHECK"]
SECTIONS = [
    {"key": "clinical", "fields": [{"key": "indication", "value": "Cough"}]},
    {"key": "technique", "fields": [{"key": "technique", "value": "Helical CT"}]},
    {"key": "findings", "fields": [{"key": "findings", "value": "Clear lungs."}]},
]


def bearer(subject: str, role: Role, sites: list[str] | None = None) -> dict[str, str]:
    """The Authorization header of a development token."""
    token = mint(role=role, subject=subject, settings=Settings(), sites=sites)
    return {"Authorization": f"Bearer {token}"}


TECH = bearer("tech.bench", Role.TECHNOLOGIST, sites=["MAIN", "NORTH"])  # works at both
DESK = bearer("desk.bench", Role.SCHEDULER)
SUPERVISOR = bearer("sup.bench", Role.SUPERVISOR)
READER_H = bearer(READER, Role.RADIOLOGIST)
REFERRER = bearer("REF01", Role.REFERRER)


def mutation(name: str, input_type: str, extra: str = "") -> str:
    return (
        f"mutation($input: {input_type}!) {{ {name}(input: $input) {{ __typename "
        f"... on Error {{ code message }} {extra} }} }}"
    )


PLACE = mutation(
    "placeOrder", "PlaceOrderInput", "... on OrderPlaced { exam { id accessionNumber } }"
)
STEPS: list[tuple[str, str, dict[str, str], dict[str, Any]]] = [
    ("scheduleExam", "ScheduleExamInput", DESK, {"resourceCode": RESOURCE}),
    ("confirmAppointment", "ExamInput", DESK, {}),
    ("checkIn", "ExamInput", DESK, {}),
    *[("completePrepItem", "CompletePrepItemInput", TECH, {"itemCode": c}) for c in PREP],
    ("startAcquisition", "StartAcquisitionInput", TECH, {"resourceCode": RESOURCE}),
    (
        "completeAcquisition",
        "CompleteAcquisitionInput",
        TECH,
        {"seriesCount": 3, "imageCount": 450},
    ),
    ("validateMetadata", "ValidateMetadataInput", TECH, {}),
    ("registerStorage", "RegisterStorageInput", TECH, {"archiveLocation": "pacs://bench"}),
    (
        "assignRead",
        "AssignReadInput",
        SUPERVISOR,
        {"radiologistCode": READER, "reason": "benchmark"},
    ),
    ("openRead", "ExamInput", READER_H, {}),
    (
        "saveReportDraft",
        "SaveReportDraftInput",
        READER_H,
        {"sections": SECTIONS, "impression": "No acute findings.", "criticalLevel": "URGENT"},
    ),
    ("signPreliminary", "ExamInput", READER_H, {}),
    ("signFinal", "ExamInput", READER_H, {}),
    ("notifyResult", "NotifyResultInput", READER_H, {}),
    ("acknowledgeResult", "ExamInput", REFERRER, {}),
    (
        "recordFollowUp",
        "RecordFollowUpInput",
        READER_H,
        {"recommendation": "CT chest in 12 months", "dueOn": "2030-01-01"},
    ),
    ("submitSurvey", "SubmitSurveyInput", REFERRER, {"respondent": "REFERRER", "score": 5}),
    ("closeExam", "ExamInput", SUPERVISOR, {}),
]
DOCUMENTS = {name: mutation(name, input_type) for name, input_type, _, _ in STEPS}
MUTATIONS_PER_EXAM = 1 + len(STEPS)


async def drive_exam(client: AsgiClient, n: int, slot: str) -> None:
    async def post(document: str, headers: dict[str, str], input: dict[str, Any]) -> Any:
        body = await client.post_json(
            "/graphql", {"query": document, "variables": {"input": input}}, headers
        )
        if "errors" in body:
            raise RuntimeError(body["errors"])
        return next(iter(body["data"].values()))

    placed = await post(
        PLACE,
        REFERRER,
        {
            "orderSource": "BENCH",
            "placerOrderNumber": f"L{n:08d}",
            "patientMrn": f"MRN{1 + n % 500:06d}",
            "referrerCode": "REF01",
            "procedureCode": PROCEDURE,
            "siteCode": SITE,
            "priority": "ROUTINE",
            "patientClass": "INPATIENT",
            "indication": "Cough",
            "icd10Code": "R05",
        },
    )
    exam_id, accession = placed["exam"]["id"], placed["exam"]["accessionNumber"]
    for name, _, headers, extra in STEPS:
        values = {"examId": exam_id, **extra}
        if name == "scheduleExam":
            values["startsAt"] = slot
        if name == "validateMetadata":
            values["header"] = {
                "accessionNumber": accession,
                "patientMrn": f"MRN{1 + n % 500:06d}",
                "modality": "CT",
                "bodyPart": "CHEST",
                "procedureCode": PROCEDURE,
            }
        if name == "registerStorage":
            values["studyInstanceUid"] = f"1.2.826.0.1.3680043.{n + 1}"
        result = await post(DOCUMENTS[name], headers, values)
        if result["__typename"] in {
            "NotFound",
            "InvalidTransition",
            "PreconditionFailed",
            "ValidationFailed",
            "Conflict",
            "SlotTaken",
        }:
            raise RuntimeError(f"exam {n}: {name} failed: {result}")


async def run(url: str, exams: int, concurrency: int) -> dict[str, Any]:
    db = Database(url)
    if db.is_sqlite:
        create_schema(db)
    else:
        await reset_postgres(db)
    await db.run(lambda uow: seed_reference(uow, patients=500))
    await db.run(
        lambda uow: worklists.start_shift(
            uow=uow,
            actor=Actor("bench", Role.SUPERVISOR),
            radiologist_code=READER,
            site_code=SITE,
            ends_at=uow.now + timedelta(hours=23),
        )
    )
    # One benchmark client is far busier than any person: keep the limiter running, not binding.
    app = create_app(Settings(database_url=url, RADFLOW_RATE_LIMIT="1000000/second"), db=db)
    freeze_startup_heap()  # as `radflow serve` does
    # CT1 is open around the clock on a 15-minute grid: one future slot per exam.
    start = (utcnow() + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    slots = [(start + timedelta(minutes=15 * n)).isoformat() for n in range(exams)]
    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in range(exams):
        queue.put_nowait(n)
    client = AsgiClient(app)

    async def worker() -> None:
        while not queue.empty():
            n = queue.get_nowait()
            await drive_exam(client, n, slots[n])

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - began
    await db.dispose()
    return {
        "exams_per_s": round(exams / elapsed, 2),
        "mutations_per_s": round(exams * MUTATIONS_PER_EXAM / elapsed, 1),
        "backend": db.backend,
        "exams": exams,
        "seconds": round(elapsed, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exams", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    url = args.database_url or f"sqlite:///{Path(tempfile.mkdtemp()) / 'lifecycle.db'}"
    result = asyncio.run(run(url, args.exams, args.concurrency))
    print(
        f"{result['exams']} exams x {MUTATIONS_PER_EXAM} mutations in {result['seconds']} s "
        f"on {result['backend']}"
    )
    print(json.dumps({k: result[k] for k in ("exams_per_s", "mutations_per_s", "backend")}))


if __name__ == "__main__":
    main()
