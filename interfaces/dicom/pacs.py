"""Studies arriving in the PACS: Orthanc's changes feed followed, each stable study matched.

For each `StableStudy` change the follower reads the study's header from Orthanc's REST API
(study, patient and first series main tags, and its counts) and finds its exam: by the Study
Instance UID when radflow assigned it (`<root>.<exam id>`), else by Accession Number. The
header is then checked against the order (accession, patient id, name, birth date, modality,
body part) through the application's commands, as the PACS's integration actor:

* the exam is ACQUIRED: validated; a match registers storage (the DICOMweb URL is the archive
  location) and the study is READY_FOR_READ; a mismatch rejects the metadata, each disagreeing
  field listed;
* the exam was rejected and the PACS now holds a corrected study: the correction is recorded
  and storage registered;
* the exam is not acquired yet (the scanner's MPPS is still open): PENDING, tried again on
  each pass;
* no exam: UNMATCHED, kept for reconciliation;
* its handling failed (Orthanc answered an error for this study, a command failed): FAILED,
  with the error and the number of tries, and tried again after a doubling wait
  (`retry_seconds`, 2x, 4x, ... at most `retry_max_seconds`) until it is handled. The feed's
  cursor moves on meanwhile, so one bad study never holds up the others, and none is lost:
  the failed study's row stays until a try succeeds. Only Orthanc being unreachable (or the
  database failing to record the failure) stops a pass, and then the cursor stays where it is.

One replica follows the feed at a time, by a row claim on `pacs_followers`: the holder renews
its claim as it goes and advances the feed's cursor only while it holds it; another replica
takes over once the claim has lapsed. This is independent of the balancer's leadership, so the
PACS is followed even where no replica runs the balancer.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from application.authorization import authorize
from application.commands import Commands
from application.settings import Settings
from domain.db import Database, UnitOfWork
from domain.enums import ExamStatus, Role
from domain.errors import DomainError
from domain.lifecycle import Actor
from domain.models import (
    ArchivedStudy,
    ArchivedStudyState,
    Exam,
    PacsFollower,
    StoredStudy,
)
from domain.services import acquisition
from domain.services.imaging import (
    ArchivedHeader,
    archived_problems,
    correct_archived_study,
    validate_archived_study,
)
from interfaces.dicom.uids import exam_of

log = logging.getLogger("radflow.dicom.pacs")
FEED = "orthanc"
BEFORE_ACQUIRED = {
    ExamStatus.ORDERED,
    ExamStatus.SCHEDULED,
    ExamStatus.CHECKED_IN,
    ExamStatus.PREPARED,
    ExamStatus.IN_ACQUISITION,
}


@dataclass(frozen=True)
class PacsStudy:
    """A stable study as Orthanc reports it."""

    pacs_id: str
    study_instance_uid: str
    header: ArchivedHeader
    series_count: int
    image_count: int
    study_date: date | None


def _day(text: str) -> date | None:
    try:
        return datetime.strptime(text[:8], "%Y%m%d").date()
    except ValueError:
        return None


def _raise_for(response: httpx.Response) -> None:
    if response.is_error:
        raise httpx.HTTPStatusError(
            f"{response.status_code}: {response.text[:300]}",
            request=response.request,
            response=response,
        )


class Orthanc:
    """The parts of Orthanc's REST API radflow uses."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def _get(self, path: str, **params: Any) -> Any:
        response = await self.client.get(path, params=params or None)
        response.raise_for_status()
        return response.json()

    async def changes(self, since: int, limit: int = 100) -> tuple[list[dict[str, Any]], int, bool]:
        """(changes after `since`, the last sequence number read, whether that was all)."""
        body = await self._get("/changes", since=since, limit=limit)
        return list(body["Changes"]), int(body["Last"]), bool(body["Done"])

    async def fix(self, pacs_id: str, replace: dict[str, str]) -> str:
        """Rewrite a study's header, its UIDs kept; the original is replaced. Returns the fixed
        study's id.

        Orthanc names a study by its patient id and Study Instance UID, and refuses to change a
        study's patient id in place (it is the parent's), so each instance is rewritten and
        stored anew. With a new patient id the fixed copy is a study of its own: it is stored,
        then the original deleted. With the same patient id the fixed copy has the original's
        very ids, which Orthanc will not store over the original (it answers AlreadyStored and
        keeps the old file): the original is deleted first and, if storing the rewritten
        instances then fails, stored back before the error is raised.
        """
        study = await self._get(f"/studies/{pacs_id}")
        patient_id = replace.get("PatientID")
        current = str(study.get("PatientMainDicomTags", {}).get("PatientID", ""))
        same_patient = patient_id is None or patient_id == current
        originals: list[bytes] = []
        rewritten: list[bytes] = []
        for instance in await self._get(f"/studies/{pacs_id}/instances"):
            if same_patient:
                original = await self.client.get(f"/instances/{instance['ID']}/file")
                _raise_for(original)
                originals.append(original.content)
            modified = await self.client.post(
                f"/instances/{instance['ID']}/modify",
                json={
                    "Replace": replace,
                    "Keep": ["StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID"],
                    "Force": True,  # the UIDs are kept: the same study, fixed
                },
            )
            _raise_for(modified)
            rewritten.append(modified.content)
        if not rewritten:
            raise httpx.HTTPError(f"study {pacs_id} has no instances")
        if not same_patient:
            fixed = [await self._store(content) for content in rewritten][-1]
            _raise_for(await self.client.delete(f"/studies/{pacs_id}"))
            return fixed
        _raise_for(await self.client.delete(f"/studies/{pacs_id}"))
        try:
            return [await self._store(content) for content in rewritten][-1]
        except httpx.HTTPError:
            for content in originals:
                await self._store(content)
            raise

    async def _store(self, content: bytes) -> str:
        """Store one DICOM instance; the id of the study it belongs to."""
        stored = await self.client.post(
            "/instances", content=content, headers={"Content-Type": "application/dicom"}
        )
        _raise_for(stored)
        return str(stored.json()["ParentStudy"])

    async def study(self, pacs_id: str) -> PacsStudy:
        """The study's header and counts."""
        study = await self._get(f"/studies/{pacs_id}")
        tags, patient = study.get("MainDicomTags", {}), study.get("PatientMainDicomTags", {})
        series = study.get("Series") or []
        first = (await self._get(f"/series/{series[0]}")).get("MainDicomTags", {}) if series else {}
        statistics = await self._get(f"/studies/{pacs_id}/statistics")
        return PacsStudy(
            pacs_id=pacs_id,
            study_instance_uid=str(tags.get("StudyInstanceUID", "")),
            header=ArchivedHeader(
                accession_number=str(tags.get("AccessionNumber", "")).strip(),
                patient_id=str(patient.get("PatientID", "")).strip(),
                patient_name=str(patient.get("PatientName", "")).strip(),
                birth_date=str(patient.get("PatientBirthDate", "")).strip(),
                modality=str(first.get("Modality", "")).strip(),
                body_part=str(first.get("BodyPartExamined", "")).strip(),
            ),
            series_count=int(statistics.get("CountSeries", len(series))),
            image_count=int(statistics.get("CountInstances", 0)),
            study_date=_day(str(tags.get("StudyDate", ""))),
        )


@dataclass
class PacsFollowerLoop:
    """Follows one Orthanc's changes on this replica while it holds the feed's claim."""

    db: Database
    orthanc: Orthanc
    uid_root: str
    dicomweb_root: str
    viewer_template: str | None
    replica: str
    actor: Actor = field(default_factory=lambda: Actor("orthanc.follower", Role.INTEGRATION))
    poll_seconds: float = 1.0
    claim_seconds: float = 10.0
    concurrency: int = 8
    retry_seconds: float = 5.0
    retry_max_seconds: float = 600.0

    async def claim(self) -> int | None:
        """The feed's cursor if this replica holds (or now takes) the claim, else None."""

        def take(uow: UnitOfWork) -> int | None:
            row = uow.session.get(PacsFollower, FEED, with_for_update=True)
            now = uow.now
            if row is None:
                row = PacsFollower(name=FEED, last_change=0)
                uow.add(row)
            elif (
                row.holder not in (None, self.replica)
                and row.claimed_until is not None
                and row.claimed_until > now
            ):
                return None
            row.holder, row.claimed_until = (
                self.replica,
                now + timedelta(seconds=self.claim_seconds),
            )
            return row.last_change

        try:
            return await self.db.run(take)
        except IntegrityError:  # another replica created the row at the same moment
            return None

    async def advance(self, last: int) -> bool:
        """Move the cursor to `last`, only while this replica still holds the claim."""

        def move(uow: UnitOfWork) -> bool:
            done = uow.session.execute(
                sa.update(PacsFollower)
                .where(col(PacsFollower.name) == FEED, col(PacsFollower.holder) == self.replica)
                .values(last_change=last)
            )
            return bool(done.rowcount)  # type: ignore[attr-defined]

        return await self.db.run(move)

    async def step(self) -> bool:
        """One pass: new changes, then the pending studies; whether the feed has more now."""
        since = await self.claim()
        if since is None:
            return False
        changes, last, done = await self.orthanc.changes(since)
        stable = {str(c["ID"]): None for c in changes if c.get("ChangeType") == "StableStudy"}
        await self._receive_all(list(stable))
        if last != since and not await self.advance(last):
            return False
        await self.retry_pending(skip=set(stable))
        return not done

    async def run(self) -> None:
        """Follow the feed until cancelled."""
        reachable = True
        while True:
            try:
                more = await self.step()
            except (httpx.HTTPError, OSError) as unreachable:
                if reachable:  # said once per outage, not at every poll
                    log.warning("Orthanc not reachable: %s", unreachable)
                reachable, more = False, False
            except Exception:  # a pass failed (a lost race, the database away): next pass
                log.exception("a pass over Orthanc's changes failed; trying again")
                more = False
            else:
                if not reachable:
                    log.info("Orthanc reachable again")
                reachable = True
            if not more:
                await asyncio.sleep(self.poll_seconds)

    async def retry_pending(self, skip: set[str] | None = None) -> None:
        """The studies waiting for their exam's acquisition, and the failed ones now due."""
        now = self.db.clock()
        due = await self.db.read(
            lambda s: list(
                s.scalars(
                    sa.select(col(ArchivedStudy.pacs_id)).where(
                        sa.or_(
                            col(ArchivedStudy.state) == ArchivedStudyState.PENDING,
                            sa.and_(
                                col(ArchivedStudy.state) == ArchivedStudyState.FAILED,
                                col(ArchivedStudy.retry_at) <= now,
                            ),
                        )
                    )
                )
            )
        )
        await self._receive_all([pacs_id for pacs_id in due if pacs_id not in (skip or ())])

    async def _receive_all(self, pacs_ids: list[str]) -> None:
        """Several studies at once (each its own exam and transaction): the REST reads of one
        overlap the others' while the database serialises what it must. A study that fails
        is recorded FAILED and the others go on; Orthanc unreachable fails the pass."""
        gate = asyncio.Semaphore(self.concurrency)

        async def one(pacs_id: str) -> None:
            async with gate:
                try:
                    await self.receive(pacs_id)
                except httpx.TransportError:
                    raise  # Orthanc itself is away: not this study's fault
                except Exception as error:
                    await self.failed(pacs_id, error)

        await asyncio.gather(*(one(pacs_id) for pacs_id in pacs_ids))

    async def failed(self, pacs_id: str, error: Exception) -> None:
        """Record that handling the study failed, and when it is tried again."""
        message = f"{type(error).__name__}: {error}"[:500]

        def record(uow: UnitOfWork) -> int | None:
            row = uow.session.scalar(
                sa.select(ArchivedStudy).where(col(ArchivedStudy.pacs_id) == pacs_id)
            )
            if row is None:  # failed before its header was read: known by its id alone
                row = ArchivedStudy(
                    pacs_id=pacs_id,
                    study_instance_uid="",
                    accession_number="",
                    state=ArchivedStudyState.FAILED,
                    header={},
                    problems=[],
                    series_count=0,
                    image_count=0,
                    dicomweb_url="",
                    received_at=uow.now,
                    updated_at=uow.now,
                )
                uow.add(row)
            elif row.state in {ArchivedStudyState.READY, ArchivedStudyState.RECONCILED}:
                return None  # handled already (reported again): nothing is waiting on it
            row.attempts += 1
            wait = min(self.retry_seconds * 2 ** (row.attempts - 1), self.retry_max_seconds)
            row.state, row.last_error, row.updated_at = ArchivedStudyState.FAILED, message, uow.now
            row.retry_at = uow.now + timedelta(seconds=wait)
            return row.attempts

        attempts = await self.db.run(record)
        if attempts is not None:
            log.warning(
                "study %s failed (try %s), tried again later: %s", pacs_id, attempts, message
            )

    async def receive(self, pacs_id: str) -> ArchivedStudyState:
        """Match one stable study to its exam and move the exam on; returns where it stands."""
        try:
            study = await self.orthanc.study(pacs_id)
        except httpx.HTTPStatusError as gone:
            # Deleted from the PACS since it was reported: nothing to do, unless radflow was
            # waiting for it (pending or failed), which then fails visibly rather than quietly.
            if gone.response.status_code == 404 and not await self._waiting(pacs_id):
                return ArchivedStudyState.UNMATCHED
            raise
        exam_id = await self.db.read(lambda s: self._exam_for(s, study), bounded=True)
        urls = self._urls(study)
        if exam_id is None:
            await self.db.run(lambda uow: self._record(uow, study, None, urls, []))
            return ArchivedStudyState.UNMATCHED
        try:
            state, _ = await Commands(self.db, self.actor).on_exam(
                "validateMetadata",
                exam_id,
                lambda uow, actor, pk: self._match(uow, actor, pk, study, urls),
                sent=study.header.accession_number,
            )
        except DomainError as refused:  # e.g. its UID is stored for another exam already
            log.warning("study %s for exam %s not taken: %s", pacs_id, exam_id, refused.message)
            return await self.db.run(lambda uow: self._unless_taken(uow, study, urls))
        return state

    async def _waiting(self, pacs_id: str) -> bool:
        state = await self.db.read(
            lambda s: s.scalar(
                sa.select(col(ArchivedStudy.state)).where(col(ArchivedStudy.pacs_id) == pacs_id)
            )
        )
        return state in {ArchivedStudyState.PENDING, ArchivedStudyState.FAILED}

    def _unless_taken(
        self, uow: UnitOfWork, study: PacsStudy, urls: tuple[str, str | None]
    ) -> ArchivedStudyState:
        """UNMATCHED, unless the study was made ready meanwhile (by a deposed holder's pass)."""
        row = uow.session.scalar(
            sa.select(ArchivedStudy).where(col(ArchivedStudy.pacs_id) == study.pacs_id)
        )
        if row is not None and row.state in {
            ArchivedStudyState.READY,
            ArchivedStudyState.RECONCILED,
        }:
            return row.state
        self._record(uow, study, None, urls, [])
        return ArchivedStudyState.UNMATCHED

    def _exam_for(self, session: Any, study: PacsStudy) -> int | None:
        assigned = exam_of(self.uid_root, study.study_instance_uid)
        if assigned is not None and session.get(Exam, assigned) is not None:
            return assigned
        found: int | None = session.scalar(
            sa.select(col(Exam.id)).where(
                col(Exam.accession_number) == study.header.accession_number
            )
        )
        return found

    def _urls(self, study: PacsStudy) -> tuple[str, str | None]:
        dicomweb = f"{self.dicomweb_root}/studies/{study.study_instance_uid}"
        viewer = None
        if self.viewer_template:
            viewer = self.viewer_template.format(
                study_instance_uid=study.study_instance_uid,
                accession=study.header.accession_number,
                pacs_id=study.pacs_id,
            )
        return dicomweb, viewer

    def _match(
        self,
        uow: UnitOfWork,
        actor: Actor,
        exam_id: int,
        study: PacsStudy,
        urls: tuple[str, str | None],
    ) -> ArchivedStudyState:
        exam = uow.session.get(Exam, exam_id)
        assert exam is not None
        if exam.status in BEFORE_ACQUIRED:
            self._record(uow, study, exam_id, urls, [], ArchivedStudyState.PENDING)
            return ArchivedStudyState.PENDING
        if exam.status == ExamStatus.ACQUIRED:
            validation = validate_archived_study(
                uow=uow, actor=actor, exam_id=exam_id, header=study.header
            )
            if not validation.valid:
                self._record(uow, study, exam_id, urls, validation.problems)
                return ArchivedStudyState.REJECTED
        elif exam.status == ExamStatus.METADATA_REJECTED:
            problems = archived_problems(uow, exam, study.header)
            if problems:
                listed = [
                    {"field": p.field, "code": p.code, "message": p.message} for p in problems
                ]
                self._record(uow, study, exam_id, urls, listed)
                return ArchivedStudyState.REJECTED
            authorize(actor, "correctMetadata")
            correct_archived_study(
                uow=uow,
                actor=actor,
                exam_id=exam_id,
                header=study.header,
                reason=f"the PACS holds a corrected study ({study.pacs_id})",
            )
        else:  # stored already: the same study reported again, or another one for the exam
            stored = uow.session.scalar(
                sa.select(col(StoredStudy.study_instance_uid)).where(
                    col(StoredStudy.exam_id) == exam_id
                )
            )
            state = (
                ArchivedStudyState.READY
                if stored == study.study_instance_uid
                else ArchivedStudyState.UNMATCHED
            )
            self._record(uow, study, exam_id if state == "READY" else None, urls, [], state)
            return state
        authorize(actor, "registerStorage")
        acquisition.register_storage(
            uow=uow,
            actor=actor,
            exam_id=exam_id,
            study_instance_uid=study.study_instance_uid,
            archive_location=urls[0],
        )
        self._record(uow, study, exam_id, urls, [], ArchivedStudyState.READY)
        return ArchivedStudyState.READY

    def _record(
        self,
        uow: UnitOfWork,
        study: PacsStudy,
        exam_id: int | None,
        urls: tuple[str, str | None],
        problems: list[dict[str, Any]],
        state: ArchivedStudyState | None = None,
    ) -> None:
        if state is None:
            state = ArchivedStudyState.REJECTED if problems else ArchivedStudyState.UNMATCHED
        row = uow.session.scalar(
            sa.select(ArchivedStudy).where(col(ArchivedStudy.pacs_id) == study.pacs_id)
        )
        if row is None:
            row = ArchivedStudy(
                pacs_id=study.pacs_id,
                study_instance_uid=study.study_instance_uid,
                accession_number=study.header.accession_number[:64],
                state=state,
                header={},
                problems=[],
                series_count=0,
                image_count=0,
                dicomweb_url="",
                received_at=uow.now,
                updated_at=uow.now,
            )
            uow.add(row)
        row.exam_id, row.state, row.updated_at = exam_id, state, uow.now
        row.attempts, row.last_error, row.retry_at = 0, None, None
        # A row first recorded as failed knew only the study's PACS id.
        row.study_instance_uid = study.study_instance_uid
        row.accession_number = study.header.accession_number[:64]
        row.header = {
            "accession_number": study.header.accession_number,
            "patient_id": study.header.patient_id,
            "patient_name": study.header.patient_name,
            "birth_date": study.header.birth_date,
            "modality": study.header.modality,
            "body_part": study.header.body_part,
        }
        row.problems = problems
        row.series_count, row.image_count = study.series_count, study.image_count
        row.dicomweb_url, row.viewer_url = urls
        row.study_date = study.study_date


def failed_studies(session: Any, first: int) -> list[ArchivedStudy]:
    """The studies whose handling failed, the longest failing first."""
    return list(
        session.scalars(
            sa.select(ArchivedStudy)
            .where(col(ArchivedStudy.state) == ArchivedStudyState.FAILED)
            .order_by(col(ArchivedStudy.received_at), col(ArchivedStudy.id))
            .limit(first)
        )
    )


def follower_for(db: Database, settings: Settings, replica: str) -> PacsFollowerLoop:
    """The configured follower (`RADFLOW_ORTHANC_*`); its HTTP client closes with `close`."""
    if settings.orthanc_url is None:
        raise ValueError("RADFLOW_ORTHANC_URL is not set")
    auth = None
    if settings.orthanc_username:
        auth = httpx.BasicAuth(settings.orthanc_username, settings.orthanc_password or "")
    client = httpx.AsyncClient(base_url=settings.orthanc_url, auth=auth, timeout=30.0)
    root = (settings.dicomweb_url or f"{settings.orthanc_url.rstrip('/')}/dicom-web").rstrip("/")
    return PacsFollowerLoop(
        db,
        Orthanc(client),
        settings.dicom_uid_root,
        root,
        settings.viewer_url_template,
        replica,
        poll_seconds=settings.orthanc_poll_seconds,
    )


@asynccontextmanager
async def following(db: Database, settings: Settings) -> AsyncIterator[PacsFollowerLoop]:
    """Follow the configured Orthanc in the background while the context is open."""
    replica = settings.replica_id or f"{socket.gethostname()}:{os.getpid()}"
    follower = follower_for(db, settings, replica)
    task = asyncio.get_running_loop().create_task(follower.run())
    try:
        yield follower
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await follower.orthanc.client.aclose()
