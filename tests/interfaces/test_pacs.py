"""Studies arriving from a real Orthanc: DICOM files sent with dcmtk's storescu, the changes feed
followed, and the exam moving on by itself (ready for reading, rejected, pending, unmatched)."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from pydicom import dcmread
from pydicom.data import get_testdata_file
from pydicom.uid import generate_uid
from sqlmodel import col

from api.app import create_app
from api.relay import to_global_id
from application.settings import Settings
from bench.dicom import start_orthanc
from domain.db import Database
from domain.enums import ExamStatus
from domain.models import (
    ArchivedStudy,
    ArchivedStudyState,
    AuditEvent,
    MetadataValidation,
    PacsFollower,
    Patient,
    StoredStudy,
)
from domain.services import acquisition
from interfaces.dicom.pacs import FEED, Orthanc, PacsFollowerLoop, following
from interfaces.dicom.uids import study_instance_uid
from tests.conftest import REQUIRE_SERVICES, Api, on_loopback
from tests.factories import TECH, current, drive, order, reference


def fresh_root() -> str:
    """A UID root of this test's own: exam ids restart with each test's database, and the
    module's Orthanc would otherwise see an earlier test's study again (Orthanc names a study
    by patient id and Study Instance UID)."""
    return f"2.25.{uuid.uuid4().int}"


def need(tool: str, package: str) -> None:
    if shutil.which(tool) is None:
        message = f"{package} is not installed ({tool}): apt-get install {package}"
        if REQUIRE_SERVICES:
            pytest.fail(message + " (RADFLOW_REQUIRE_SERVICES=1 forbids skipping)")
        pytest.skip(message)


@dataclass(frozen=True)
class OrthancServer:
    url: str
    dicom_port: int


@pytest.fixture(scope="module")
def orthanc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OrthancServer]:
    """A real Orthanc on free ports, its storage in a temporary folder."""
    need("Orthanc", "orthanc")
    need("storescu", "dcmtk")
    folder = tmp_path_factory.mktemp("orthanc")
    try:
        process, url, dicom = start_orthanc(folder, "radflow-test")
    except RuntimeError as failed:
        pytest.fail(str(failed))
    try:
        yield OrthancServer(url, dicom)
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture
async def follower(db: Database, orthanc: OrthancServer) -> AsyncIterator[PacsFollowerLoop]:
    await reference(db)
    async with httpx.AsyncClient(base_url=orthanc.url, timeout=30) as client:
        # The module's Orthanc keeps earlier tests' studies: this test follows from now on.
        last = (await client.get("/changes", params={"last": ""})).json()["Last"]
        loop = PacsFollowerLoop(
            db,
            Orthanc(client),
            fresh_root(),
            f"{orthanc.url}/dicom-web",
            "https://viewer.example/viewer?StudyInstanceUIDs={study_instance_uid}",
            "replica-a",
        )
        await db.run(lambda uow: None)
        assert await loop.claim() == 0
        assert await loop.advance(int(last))
        yield loop


def dicom_file(folder: Path, *, uid: str, **tags: str) -> Path:
    """pydicom's CT test image, made into one instance of a new study with these tags."""
    image = dcmread(get_testdata_file("CT_small.dcm"))
    image.StudyInstanceUID = uid
    image.SeriesInstanceUID = generate_uid()
    image.SOPInstanceUID = generate_uid()
    image.file_meta.MediaStorageSOPInstanceUID = image.SOPInstanceUID
    for keyword, value in tags.items():
        setattr(image, keyword, value)
    path = folder / f"{image.SOPInstanceUID}.dcm"
    image.save_as(path)
    return path


def storescu(orthanc: OrthancServer, path: Path) -> None:
    done = subprocess.run(
        ["storescu", "-aec", "ORTHANC", "127.0.0.1", str(orthanc.dicom_port), str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr


async def send(orthanc: OrthancServer, folder: Path, *, uid: str, **tags: str) -> None:
    path = await asyncio.to_thread(dicom_file, folder, uid=uid, **tags)
    await asyncio.to_thread(storescu, orthanc, path)


async def until(
    follower: PacsFollowerLoop, condition: Callable[[], Awaitable[bool]], seconds: float = 60
) -> None:
    """Let the follower take passes until the condition holds."""
    deadline = time.monotonic() + seconds
    while not await condition():
        assert time.monotonic() < deadline, "the condition did not come true"
        await follower.step()
        await asyncio.sleep(0.2)


async def archived(db: Database, accession: str) -> ArchivedStudy | None:
    return await db.read(
        lambda s: s.scalars(
            sa.select(ArchivedStudy)
            .where(ArchivedStudy.accession_number == accession)
            .order_by(ArchivedStudy.id.desc())  # type: ignore[union-attr]
        ).first()
    )


def in_state(
    db: Database, accession: str, state: ArchivedStudyState
) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        row = await archived(db, accession)
        return row is not None and row.state == state

    return check


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)
async def test_stored_studies_become_ready_rejected_pending_or_unmatched_on_their_own(
    db: Database, orthanc: OrthancServer, follower: PacsFollowerLoop, tmp_path: Path
) -> None:
    patient = await db.read(
        lambda s: s.scalar(sa.select(Patient).where(Patient.mrn == "MRN000001"))
    )
    assert patient is not None
    right = {
        "PatientID": "MRN000001",
        "PatientName": f"{patient.family_name}^{patient.given_name}",
        "PatientBirthDate": patient.birth_date.strftime("%Y%m%d"),
        "Modality": "US",
        "BodyPartExamined": "ABDOMEN",
    }

    # Matched by radflow's own Study Instance UID: ready for reading, with its links.
    exam = await drive(db, await order(db), ExamStatus.ACQUIRED)
    uid = study_instance_uid(follower.uid_root, exam.id or 0)
    await send(orthanc, tmp_path, uid=uid, AccessionNumber=exam.accession_number, **right)
    await until(follower, in_state(db, exam.accession_number, ArchivedStudyState.READY))
    assert (await current(db, exam.id or 0)).status == ExamStatus.READY_FOR_READ
    stored = await db.read(lambda s: s.scalars(sa.select(StoredStudy)).one())
    assert stored.study_instance_uid == uid and stored.archive_location.endswith(f"/studies/{uid}")
    row = await archived(db, exam.accession_number)
    assert row is not None and row.viewer_url == (
        f"https://viewer.example/viewer?StudyInstanceUIDs={uid}"
    )
    assert (row.series_count, row.image_count) == (1, 1)

    # A scanner's own UID, matched by accession; the header disagrees: rejected, field by field.
    wrong = await drive(db, await order(db), ExamStatus.ACQUIRED)
    bad = {**right, "PatientBirthDate": "19000101", "BodyPartExamined": "CHEST"}
    await send(orthanc, tmp_path, uid=generate_uid(), AccessionNumber=wrong.accession_number, **bad)
    await until(follower, in_state(db, wrong.accession_number, ArchivedStudyState.REJECTED))
    assert (await current(db, wrong.id or 0)).status == ExamStatus.METADATA_REJECTED
    validation = await db.read(
        lambda s: s.scalars(
            sa.select(MetadataValidation).where(MetadataValidation.exam_id == wrong.id)
        ).one()
    )
    assert sorted(p["field"] for p in validation.problems) == ["birth_date", "body_part"]
    # Corrected in the PACS (sent again, right this time): it goes on to the worklist.
    await send(
        orthanc, tmp_path, uid=generate_uid(), AccessionNumber=wrong.accession_number, **right
    )
    await until(follower, in_state(db, wrong.accession_number, ArchivedStudyState.READY))
    assert (await current(db, wrong.id or 0)).status == ExamStatus.READY_FOR_READ

    # Images before the acquisition is complete: pending until it is.
    early = await drive(db, await order(db), ExamStatus.IN_ACQUISITION)
    await send(
        orthanc, tmp_path, uid=generate_uid(), AccessionNumber=early.accession_number, **right
    )
    await until(follower, in_state(db, early.accession_number, ArchivedStudyState.PENDING))
    await db.run(
        lambda uow: acquisition.complete_acquisition(
            uow=uow, actor=TECH, exam_id=early.id or 0, series_count=1, image_count=1
        )
    )
    await until(follower, in_state(db, early.accession_number, ArchivedStudyState.READY))

    # No order has it: kept for reconciliation, nothing moved.
    await send(orthanc, tmp_path, uid=generate_uid(), AccessionNumber="NOSUCH0001", **right)
    await until(follower, in_state(db, "NOSUCH0001", ArchivedStudyState.UNMATCHED))


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_one_replica_follows_the_feed_while_its_claim_holds(
    db: Database, orthanc: OrthancServer, follower: PacsFollowerLoop, clock: object
) -> None:
    other = PacsFollowerLoop(
        db, follower.orthanc, follower.uid_root, "http://x/dicom-web", None, "replica-b"
    )
    assert await other.claim() is None
    assert not await other.advance(10**9)
    assert await follower.claim() is not None
    clock.advance(seconds=follower.claim_seconds + 1)  # type: ignore[attr-defined]
    assert await other.claim() is not None  # lapsed: taken over
    assert not await follower.advance(10**9)  # the old holder can no longer move the cursor


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_the_served_follower_moves_an_exam_without_being_driven(
    db: Database, orthanc: OrthancServer, tmp_path: Path
) -> None:
    await reference(db)
    async with httpx.AsyncClient(base_url=orthanc.url) as client:
        since = (await client.get("/changes", params={"last": ""})).json()["Last"]
    await db.run(lambda uow: uow.add(PacsFollower(name=FEED, last_change=int(since))))
    root = fresh_root()
    settings = Settings().model_copy(
        update={"orthanc_url": orthanc.url, "dicom_uid_root": root, "orthanc_poll_seconds": 0.2}
    )
    exam = await drive(db, await order(db), ExamStatus.ACQUIRED)
    patient = await db.read(
        lambda s: s.scalar(sa.select(Patient).where(Patient.mrn == "MRN000001"))
    )
    assert patient is not None
    async with following(db, settings):
        await send(
            orthanc,
            tmp_path,
            uid=study_instance_uid(root, exam.id or 0),
            AccessionNumber=exam.accession_number,
            PatientID="MRN000001",
            PatientName=f"{patient.family_name}^{patient.given_name}",
            PatientBirthDate=patient.birth_date.strftime("%Y%m%d"),
            Modality="US",
            BodyPartExamined="ABDOMEN",
        )
        deadline = time.monotonic() + 60
        while (await current(db, exam.id or 0)).status != ExamStatus.READY_FOR_READ:
            assert time.monotonic() < deadline, "the follower did not make the study ready"
            await asyncio.sleep(0.2)
    row = await archived(db, exam.accession_number)
    assert row is not None and row.dicomweb_url == (
        f"{orthanc.url}/dicom-web/studies/{study_instance_uid(root, exam.id or 0)}"
    )


UNMATCHED = "{ unmatchedStudies { pacsId studyInstanceUid accessionNumber patientId patientName } }"
RECONCILE = """
mutation($input: ReconcileStudyInput!) {
  reconcileStudy(input: $input) {
    __typename
    ... on StudyReconciled { pacsId exam { accessionNumber status } }
    ... on NotFound { entity }
  }
}"""
SUPERVISING = ("sup.ortiz", "supervisor")


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_an_unmatched_study_reconciled_is_fixed_in_the_pacs_and_then_read(
    db: Database, orthanc: OrthancServer, tmp_path: Path
) -> None:
    await reference(db)
    async with httpx.AsyncClient(base_url=orthanc.url) as client:
        since = (await client.get("/changes", params={"last": ""})).json()["Last"]
    await db.run(lambda uow: uow.add(PacsFollower(name=FEED, last_change=int(since))))
    settings = Settings(
        database_url=str(db.url),
        RADFLOW_BALANCER=False,
        RADFLOW_ORTHANC_URL=orthanc.url,
        RADFLOW_ORTHANC_POLL=0.2,
        RADFLOW_DICOM_UID_ROOT=fresh_root(),
    )
    trauma = {"PatientID": "TRAUMA0001", "PatientName": "TRAUMA^UNKNOWN", "Modality": "US"}
    async with (
        on_loopback(create_app(settings, db=db)) as port,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http,
    ):
        api = Api(http, db)
        await send(
            orthanc,
            tmp_path,
            uid=generate_uid(),
            AccessionNumber="DOWNTIME01",
            PatientBirthDate="19700101",
            BodyPartExamined="ABDOMEN",
            **trauma,
        )
        deadline = time.monotonic() + 60
        listed: list[dict[str, str]] = []
        while not listed:
            assert time.monotonic() < deadline, "the study was not listed as unmatched"
            await asyncio.sleep(0.2)
            answer = await api.graphql(UNMATCHED, actor=SUPERVISING)
            listed = answer["data"]["unmatchedStudies"]  # type: ignore[index]
        (waiting,) = listed
        assert (waiting["accessionNumber"], waiting["patientId"]) == ("DOWNTIME01", "TRAUMA0001")
        assert waiting["patientName"] == "TRAUMA^UNKNOWN"
        refused = await api.graphql(UNMATCHED, actor=("tech.lee", "technologist"))
        assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"  # type: ignore[index]

        exam = await drive(db, await order(db), ExamStatus.ACQUIRED)  # registered afterwards
        variables = {
            "input": {
                "pacsId": waiting["pacsId"],
                "examId": to_global_id("Exam", exam.id or 0),
                "reason": "trauma scanned before registration",
            }
        }
        done = (await api.graphql(RECONCILE, variables, actor=SUPERVISING))["data"]
        reconciled = done["reconcileStudy"]  # type: ignore[index]
        assert reconciled["__typename"] == "StudyReconciled", reconciled
        fixed = (await http.get(f"{orthanc.url}/studies/{reconciled['pacsId']}")).json()
        assert fixed["PatientMainDicomTags"]["PatientID"] == "MRN000001"
        assert fixed["MainDicomTags"]["AccessionNumber"] == exam.accession_number
        assert fixed["MainDicomTags"]["StudyInstanceUID"] == waiting["studyInstanceUid"]
        # The fixed study comes back through the feed and the exam goes on to be read.
        while (await current(db, exam.id or 0)).status != ExamStatus.READY_FOR_READ:
            assert time.monotonic() < deadline + 60, "the reconciled study was not made ready"
            await asyncio.sleep(0.2)
        again = (await api.graphql(RECONCILE, variables, actor=SUPERVISING))["data"]
        assert again["reconcileStudy"]["__typename"] == "NotFound"  # type: ignore[index]
        assert (await api.graphql(UNMATCHED, actor=SUPERVISING))["data"] == {"unmatchedStudies": []}
    operations = await db.read(
        lambda s: list(
            s.scalars(sa.select(AuditEvent.operation).where(AuditEvent.user_id == "sup.ortiz"))
        )
    )
    assert any("reconcileStudy" in o for o in operations)
    assert any("unmatchedStudies" in o for o in operations)


class FailingStudy(httpx.AsyncBaseTransport):
    """Real HTTP to the real Orthanc, except that, while `broken`, Orthanc's answer for the
    study with this Study Instance UID is replaced by a 500: one study the PACS cannot serve."""

    def __init__(self, uid: str) -> None:
        self.uid = uid
        self.broken = True
        self.refused = 0
        self.pacs_id = ""  # Orthanc's id of the study, once asked for
        self.real = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.real.handle_async_request(request)
        parts = request.url.path.strip("/").split("/")
        if self.broken and len(parts) == 2 and parts[0] == "studies":
            await response.aread()
            if response.json().get("MainDicomTags", {}).get("StudyInstanceUID") == self.uid:
                self.refused, self.pacs_id = self.refused + 1, parts[1]
                return httpx.Response(500, text="Orthanc: internal error", request=request)
        return response

    async def aclose(self) -> None:
        await self.real.aclose()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)
async def test_a_failing_study_is_retried_with_backoff_while_the_feed_goes_on(
    db: Database, orthanc: OrthancServer, tmp_path: Path, clock: object
) -> None:
    await reference(db)
    root = fresh_root()
    patient = await db.read(
        lambda s: s.scalar(sa.select(Patient).where(Patient.mrn == "MRN000001"))
    )
    assert patient is not None
    right = {
        "PatientID": "MRN000001",
        "PatientName": f"{patient.family_name}^{patient.given_name}",
        "PatientBirthDate": patient.birth_date.strftime("%Y%m%d"),
        "Modality": "US",
        "BodyPartExamined": "ABDOMEN",
    }
    stuck = await drive(db, await order(db), ExamStatus.ACQUIRED)
    fine = await drive(db, await order(db), ExamStatus.ACQUIRED)
    stuck_uid = study_instance_uid(root, stuck.id or 0)
    transport = FailingStudy(stuck_uid)
    async with httpx.AsyncClient(base_url=orthanc.url, transport=transport, timeout=30) as client:
        last = (await client.get("/changes", params={"last": ""})).json()["Last"]
        follower = PacsFollowerLoop(
            db, Orthanc(client), root, f"{orthanc.url}/dicom-web", None, "replica-a"
        )
        assert await follower.claim() == 0
        assert await follower.advance(int(last))

        # The failing study first, then a good one: the good one is made ready all the same.
        await send(
            orthanc, tmp_path, uid=stuck_uid, AccessionNumber=stuck.accession_number, **right
        )
        await send(
            orthanc,
            tmp_path,
            uid=study_instance_uid(root, fine.id or 0),
            AccessionNumber=fine.accession_number,
            **right,
        )
        await until(follower, in_state(db, fine.accession_number, ArchivedStudyState.READY))
        await until(follower, lambda: failed_row(db, transport.pacs_id, attempts=1))
        row = await study_row(db, transport.pacs_id)
        assert row.last_error is not None and "500" in row.last_error, row.last_error
        assert row.retry_at == row.updated_at + timedelta(seconds=follower.retry_seconds)
        assert (await current(db, stuck.id or 0)).status == ExamStatus.ACQUIRED
        listed = await failed_list(db)
        assert [(f["pacsId"], f["attempts"]) for f in listed] == [(transport.pacs_id, 1)]
        assert "500" in listed[0]["lastError"]
        cursor = await db.read(lambda s: s.get(PacsFollower, FEED))
        assert cursor is not None and cursor.last_change > int(last)  # the feed moved on

        # Not due yet: not tried. Due and still failing: tried, and the wait doubles.
        refused = transport.refused
        await follower.step()
        assert transport.refused == refused
        clock.advance(seconds=follower.retry_seconds)  # type: ignore[attr-defined]
        await until(follower, lambda: failed_row(db, transport.pacs_id, attempts=2))
        row = await study_row(db, transport.pacs_id)
        assert row.retry_at == row.updated_at + timedelta(seconds=2 * follower.retry_seconds)

        # The PACS serves it again: the next try handles it, and nothing was lost.
        transport.broken = False
        clock.advance(seconds=2 * follower.retry_seconds)  # type: ignore[attr-defined]
        await until(follower, in_state(db, stuck.accession_number, ArchivedStudyState.READY))
        assert (await current(db, stuck.id or 0)).status == ExamStatus.READY_FOR_READ
        row = await study_row(db, transport.pacs_id)
        assert (row.attempts, row.last_error, row.retry_at) == (0, None, None)
        assert await failed_list(db) == []

        # A study radflow waits for (its exam still in acquisition), then deleted from the
        # PACS: it fails visibly rather than waiting for ever.
        early = await drive(db, await order(db), ExamStatus.IN_ACQUISITION)
        await send(
            orthanc, tmp_path, uid=generate_uid(), AccessionNumber=early.accession_number, **right
        )
        await until(follower, in_state(db, early.accession_number, ArchivedStudyState.PENDING))
        waiting = await archived(db, early.accession_number)
        assert waiting is not None
        assert (await client.delete(f"/studies/{waiting.pacs_id}")).status_code == 200
        await until(follower, in_state(db, early.accession_number, ArchivedStudyState.FAILED))
        (gone,) = await failed_list(db)
        assert gone["pacsId"] == waiting.pacs_id and "404" in str(gone["lastError"])


FAILED = "{ failedStudies { pacsId accessionNumber attempts lastError retryAt } }"


async def failed_list(db: Database) -> list[dict[str, object]]:
    """The supervisors' list of failing studies, over real HTTP."""
    settings = Settings(database_url=str(db.url), RADFLOW_BALANCER=False)
    async with (
        on_loopback(create_app(settings, db=db)) as port,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http,
    ):
        answer = await Api(http, db).graphql(FAILED, actor=SUPERVISING)
    listed: list[dict[str, object]] = answer["data"]["failedStudies"]  # type: ignore[index]
    return listed


async def study_row(db: Database, pacs_id: str) -> ArchivedStudy:
    row = await db.read(
        lambda s: s.scalars(
            sa.select(ArchivedStudy).where(col(ArchivedStudy.pacs_id) == pacs_id)
        ).one()
    )
    return row


async def failed_row(db: Database, pacs_id: str, *, attempts: int) -> bool:
    row = await db.read(
        lambda s: s.scalars(
            sa.select(ArchivedStudy).where(col(ArchivedStudy.pacs_id) == pacs_id)
        ).first()
    )
    return row is not None and row.state == ArchivedStudyState.FAILED and row.attempts == attempts
