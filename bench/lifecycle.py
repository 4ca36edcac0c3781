"""Drive exams through every stage, placeOrder to closeExam, via GraphQL over in-process ASGI.

    python -m bench.lifecycle [--exams 2000] [--concurrency 8] [--database-url URL]

Each exam takes 21 mutations: order, booking, confirmation, arrival, three prep items,
acquisition start and end, metadata validation, storage, assignment, opening, draft,
preliminary and final signatures, result notification and acknowledgement, follow-up,
survey and closing. Then the same count of mutations, over the same exams, transport, tokens
and database, go to the floor (bench/_mutation_floor.py: the same HTTP and GraphQL stack doing
the least a lifecycle mutation can). Last line: {"exams_per_s": .., "mutations_per_s": ..,
"floor_mutations_per_s": .., "ratio": .., "backend": ..}, ratio = radflow's mutations per
second / the floor's.
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

import sqlalchemy as sa

from api.app import create_app, freeze_startup_heap
from api.auth import mint
from api.relay import decode_id
from application.demo import seed_reference
from application.settings import Settings
from bench import _mutation_floor as floor
from bench._asgi import AsgiClient
from bench._data import create_schema, reset_postgres
from domain.db import Database
from domain.enums import ExamStatus, Role
from domain.lifecycle import Actor
from domain.services import worklists
from domain.tables import EXAMS
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
    ("acknowledgeResult", "AcknowledgeResultInput", REFERRER, {}),
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


async def drive_exam(client: AsgiClient, n: int, slot: str) -> str:
    """Take exam `n` from its order to its closing; its global id."""

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
    return str(exam_id)


# The statuses the floor's mutations move an exam through (any will do: the floor checks none).
FLOOR_STATUSES = [s.value for s in ExamStatus]
FLOOR_HEADERS = [REFERRER] + [headers for _, _, headers, _ in STEPS]


async def drive_floor(client: AsgiClient, exam_id: str, version: int) -> None:
    """As many floor mutations on one exam as radflow's walk made, each with the caller's
    token of the matching step and the version the previous one left."""
    for n, headers in enumerate(FLOOR_HEADERS):
        to_status = FLOOR_STATUSES[n % len(FLOOR_STATUSES)]
        body = await client.post_json(
            floor.PATH, floor.request_of(exam_id, version, to_status), headers
        )
        result = body.get("data", {}) and body["data"]["advanceExam"]
        if "errors" in body or result["__typename"] != "ExamAdvanced":
            raise RuntimeError(f"floor mutation on {exam_id} failed: {body}")
        version = result["version"]


async def timed(work: list[Any], concurrency: int) -> float:
    """Seconds `concurrency` workers take to await every coroutine factory in `work`."""
    queue: asyncio.Queue[Any] = asyncio.Queue()
    for item in work:
        queue.put_nowait(item)

    async def worker() -> None:
        while not queue.empty():
            await queue.get_nowait()()

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - began


async def prepare(url: str, exams: int) -> tuple[Any, Database]:
    """A fresh department with a reader on shift, and the app (with its floor) serving it."""
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
    floor.mount_floor(app)
    return app, db


def slots_for(exams: int) -> list[str]:
    """CT1 is open around the clock on a 15-minute grid: one future slot per exam."""
    start = (utcnow() + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return [(start + timedelta(minutes=15 * n)).isoformat() for n in range(exams)]


async def run(url: str, exams: int, concurrency: int) -> dict[str, Any]:
    app, db = await prepare(url, exams)
    freeze_startup_heap()  # as `radflow serve` does
    slots = slots_for(exams)
    client = AsgiClient(app)
    exam_ids: list[str] = [""] * exams

    def walk(n: int) -> Any:
        async def one() -> None:
            exam_ids[n] = await drive_exam(client, n, slots[n])

        return one

    elapsed = await timed([walk(n) for n in range(exams)], concurrency)
    # The floor moves the same exams on from where radflow left them (versions read untimed).
    versions = await db.read(
        lambda session: dict(session.execute(sa.select(EXAMS.c.id, EXAMS.c.version)).all())
    )

    def step(exam_id: str) -> Any:
        version = versions[decode_id(exam_id, "Exam", field="exam_id")]
        return lambda: drive_floor(client, exam_id, version)

    floor_elapsed = await timed([step(exam_id) for exam_id in exam_ids], concurrency)
    await db.dispose()
    return {
        "exams_per_s": round(exams / elapsed, 2),
        "mutations_per_s": round(exams * MUTATIONS_PER_EXAM / elapsed, 1),
        "floor_mutations_per_s": round(exams * MUTATIONS_PER_EXAM / floor_elapsed, 1),
        "ratio": round(floor_elapsed / elapsed, 3),
        "backend": db.backend,
        "exams": exams,
        "seconds": round(elapsed, 2),
        "floor_seconds": round(floor_elapsed, 2),
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
        f"on {result['backend']}; the floor's as many in {result['floor_seconds']} s"
    )
    keys = ("exams_per_s", "mutations_per_s", "floor_mutations_per_s", "ratio", "backend")
    print(json.dumps({k: result[k] for k in keys}))


if __name__ == "__main__":
    main()
