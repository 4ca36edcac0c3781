"""reconcileStudy creating the order for a study no exam exists for (an emergency scanned before
registration), against a real Orthanc: the patient from the header or by MRN, the order placed,
its acquisition recorded, the header fixed in Orthanc, and the exam made ready by the feed."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from pydicom.uid import generate_uid

from api.relay import to_global_id
from domain.db import Database
from domain.enums import ExamStatus, PatientClass, Priority
from domain.models import (
    ArchivedStudy,
    ArchivedStudyState,
    AuditEvent,
    Exam,
    ExamStatusChange,
    Patient,
)
from tests.factories import current
from tests.interfaces.test_pacs import OrthancServer, send
from tests.interfaces.test_pacs import orthanc as orthanc  # the fixture, by name
from tests.interfaces.test_retention import Department, department

RECONCILE = """
mutation($input: ReconcileStudyInput!) {
  reconcileStudy(input: $input) {
    __typename
    ... on StudyReconciled { pacsId exam { id accessionNumber status priority } }
    ... on ValidationFailed { errors { field code message } }
    ... on PreconditionFailed { condition }
    ... on NotFound { entity }
  }
}"""
ORDER = {
    "procedureCode": "USPELVIS",
    "siteCode": "NORTH",
    "referrerCode": "REF01",
    "indication": "blunt abdominal trauma",
    "icd10Code": "S36.9",
}


async def unmatched(dept: Department, accession: str) -> ArchivedStudy:
    deadline = time.monotonic() + 60
    while True:
        row = await dept.db.read(
            lambda s: s.scalar(
                sa.select(ArchivedStudy).where(ArchivedStudy.accession_number == accession)
            )
        )
        if row is not None and row.state == ArchivedStudyState.UNMATCHED:
            return row
        assert time.monotonic() < deadline, "the study was not listed as unmatched"
        await asyncio.sleep(0.2)


async def reconcile(dept: Department, **fields: Any) -> dict[str, Any]:
    answer = await dept.data(RECONCILE, {"input": {"reason": "ED trauma, downtime", **fields}})
    return answer["reconcileStudy"]  # type: ignore[no-any-return]


async def ready(db: Database, exam_id: int) -> None:
    deadline = time.monotonic() + 60
    while (await current(db, exam_id)).status != ExamStatus.READY_FOR_READ:
        assert time.monotonic() < deadline, "the reconciled study was not made ready"
        await asyncio.sleep(0.2)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)
async def test_an_emergency_scanned_before_registration_gets_its_order_and_is_read(
    db: Database, orthanc: OrthancServer, tmp_path: Path
) -> None:
    async with department(db, orthanc, tmp_path) as dept:
        uid = generate_uid()
        await send(
            orthanc,
            tmp_path,
            uid=uid,
            AccessionNumber="ER0000042",
            PatientID="TRAUMA0042",
            PatientName="DOE^JANE",
            PatientBirthDate="19800101",
            PatientSex="F",
            Modality="US",
            BodyPartExamined="PELVIS",
        )
        study = await unmatched(dept, "ER0000042")

        # Neither an exam nor an order, or both: refused, nothing created.
        neither = await reconcile(dept, pacsId=study.pacs_id)
        assert [e["code"] for e in neither["errors"]] == ["INVALID_VALUE"]
        both = await reconcile(
            dept, pacsId=study.pacs_id, examId=to_global_id("Exam", 1), newOrder=ORDER
        )
        assert both["__typename"] == "ValidationFailed"
        # A procedure the catalogue lacks: NotFound, and still nothing created.
        unknown = await reconcile(
            dept, pacsId=study.pacs_id, newOrder={**ORDER, "procedureCode": "NOPE"}
        )
        assert unknown == {"__typename": "NotFound", "entity": "procedure"}
        # A procedure with preparation (fasting): the prep gate holds, the whole order is undone.
        fasting = await reconcile(
            dept, pacsId=study.pacs_id, newOrder={**ORDER, "procedureCode": "USABD"}
        )
        assert fasting == {"__typename": "PreconditionFailed", "condition": "PREP_INCOMPLETE"}
        registered = await db.read(
            lambda s: s.scalar(sa.select(Patient).where(Patient.mrn == "TRAUMA0042"))
        )
        assert registered is None
        assert await db.read(lambda s: s.scalar(sa.select(sa.func.count()).select_from(Exam))) == 0

        done = await reconcile(dept, pacsId=study.pacs_id, newOrder=ORDER)
        assert done["__typename"] == "StudyReconciled", done
        assert (done["exam"]["status"], done["exam"]["priority"]) == ("ACQUIRED", "STAT")
        accession = done["exam"]["accessionNumber"]

        # The patient registered from the header; the order placed from the PACS.
        patient = await db.read(
            lambda s: s.scalar(sa.select(Patient).where(Patient.mrn == "TRAUMA0042"))
        )
        assert patient is not None
        assert (patient.family_name, patient.given_name, patient.sex) == ("DOE", "JANE", "F")
        exam = await db.read(
            lambda s: s.scalar(sa.select(Exam).where(Exam.accession_number == accession))
        )
        assert exam is not None and exam.patient_id == patient.id
        assert (exam.order_source, exam.placer_order_number) == ("PACS", uid)
        assert (exam.priority, exam.patient_class) == (Priority.STAT, PatientClass.ED)
        steps = await db.read(
            lambda s: list(
                s.execute(
                    sa.select(ExamStatusChange.event, ExamStatusChange.actor, ExamStatusChange.role)
                    .where(ExamStatusChange.exam_id == exam.id)
                    .order_by(ExamStatusChange.id)  # type: ignore[arg-type]
                )
            )
        )
        assert [(event, who, str(role)) for event, who, role in steps] == [
            ("ExamOrdered", "reconcile:sup.ortiz", "integration"),
            ("PatientCheckedIn", "NORTH_US1", "technologist"),
            ("AcquisitionStarted", "NORTH_US1", "technologist"),
            ("ExamAcquired", "NORTH_US1", "technologist"),
        ]

        # The header fixed in Orthanc, its UID kept; the feed then makes the exam ready.
        got = await dept.http.get(f"{orthanc.url}/studies/{done['pacsId']}")
        assert got.status_code == 200, (got.status_code, got.text, done)
        fixed = got.json()
        assert fixed["MainDicomTags"]["AccessionNumber"] == accession
        assert fixed["MainDicomTags"]["StudyInstanceUID"] == uid
        assert fixed["PatientMainDicomTags"]["PatientID"] == "TRAUMA0042"
        # Orthanc names a study by patient id and UID, both kept: the fixed study replaced the
        # original under the same id, one instance as before.
        assert done["pacsId"] == study.pacs_id
        instances = await dept.http.get(f"{orthanc.url}/studies/{study.pacs_id}/instances")
        assert len(instances.json()) == 1
        await ready(db, exam.id or 0)

        # A second study of a known patient (by MRN): no new patient, the record's name used.
        known = await db.read(
            lambda s: s.scalar(sa.select(Patient).where(Patient.mrn == "MRN000002"))
        )
        assert known is not None
        await send(
            orthanc,
            tmp_path,
            uid=generate_uid(),
            AccessionNumber="ER0000043",
            PatientID="MRN000002",
            PatientName="WRONGLY^TYPED",
            PatientBirthDate=known.birth_date.strftime("%Y%m%d"),
            Modality="US",
            BodyPartExamined="PELVIS",
        )
        second = await unmatched(dept, "ER0000043")
        done = await reconcile(dept, pacsId=second.pacs_id, newOrder=ORDER)
        assert done["__typename"] == "StudyReconciled", done
        fixed = (await dept.http.get(f"{orthanc.url}/studies/{done['pacsId']}")).json()
        assert fixed["PatientMainDicomTags"]["PatientName"] == (
            f"{known.family_name}^{known.given_name}"
        )
        patients = await db.read(
            lambda s: s.scalar(
                sa.select(sa.func.count()).select_from(Patient).where(Patient.mrn == "MRN000002")
            )
        )
        assert patients == 1
        second_exam = await db.read(
            lambda s: s.scalar(
                sa.select(Exam).where(Exam.accession_number == done["exam"]["accessionNumber"])
            )
        )
        assert second_exam is not None and second_exam.patient_id == known.id
        await ready(db, second_exam.id or 0)

    audited = await db.read(
        lambda s: list(
            s.scalars(
                sa.select(AuditEvent.outcome).where(
                    AuditEvent.user_id == "sup.ortiz",
                    AuditEvent.operation.contains("reconcileStudy"),  # type: ignore[attr-defined]
                )
            )
        )
    )
    assert sorted(audited) == ["FAILURE"] * 4 + ["SUCCESS"] * 2
