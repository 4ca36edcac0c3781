"""Modality Performed Procedure Step: what a scanner reports, run as the application's commands.

N-CREATE (IN PROGRESS) starts the acquisition of the exam its Scheduled Step Attributes name
(by Accession Number); N-SET COMPLETED completes it with the series and image counts of the
Performed Series Sequence; N-SET DISCONTINUED cancels the exam or repeats the acquisition, as
the discontinuation reason (CID 9300) says. Each command runs as the technologist at the
scanner (the step's actor is the scanner's AE title, at the scanner's site): a scanner is the
technologist's console, so the same role matrix, visibility and prep gate hold as when the
technologist clicks startAcquisition, and the history says which scanner did it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from pydicom.dataset import Dataset
from sqlalchemy.orm import Session
from sqlmodel import col

from application.commands import Commands
from domain.db import Database, UnitOfWork
from domain.enums import ExamStatus, RepeatReason, Role
from domain.errors import (
    Conflict,
    DomainError,
    InvalidTransition,
    NotFound,
    NotPermitted,
    PreconditionFailed,
    ValidationFailed,
)
from domain.lifecycle import Actor
from domain.models import Exam, PerformedProcedureStep, ProcedureStepStatus
from domain.services import acquisition, scheduling
from interfaces.dicom.worklist import Station, find_station

# DIMSE statuses (PS3.7 C.4.2, C.4.3; PS3.4 F.7.2 for A710).
SUCCESS = 0x0000
NO_SUCH_ATTRIBUTE = 0x0105
INVALID_ATTRIBUTE_VALUE = 0x0106
PROCESSING_FAILURE = 0x0110
DUPLICATE_INSTANCE = 0x0111
NO_SUCH_INSTANCE = 0x0112
MISSING_ATTRIBUTE = 0x0120
NOT_AUTHORIZED = 0x0124
NO_LONGER_UPDATABLE = 0xA710

# CID 9300 (Procedure Discontinuation Reasons): those that end the exam. Any other reason (the
# equipment, the patient's condition, an unspecified one) repeats the acquisition.
CANCELLING = {
    "110500": "Doctor canceled procedure",
    "110502": "Incorrect procedure ordered",
    "110503": "Patient allergic to media/contrast",
    "110504": "Patient died",
    "110505": "Patient refused to continue procedure",
    "110506": "Patient taken for treatment or surgery",
    "110507": "Patient did not arrive",
    "110508": "Patient pregnant",
    "110509": "Change of procedure for correct charging",
    "110510": "Duplicate order",
    "110511": "Nursing unit cancel",
    "110512": "Incorrect side ordered",
}
EQUIPMENT = {"110501", "110516", "110524", "110526", "110527"}
UNSPECIFIED = "Discontinued for unspecified reason"


@dataclass(frozen=True)
class Refused(Exception):
    """A procedure step radflow does not take: the DIMSE status and the technologist's reason."""

    status: int
    comment: str


def status_dataset(refused: Refused) -> Dataset:
    """The status of a refused N-CREATE or N-SET, with its Error Comment (64 characters)."""
    ds = Dataset()
    ds.Status = refused.status
    ds.ErrorComment = refused.comment[:64]
    return ds


def refusal_of(error: DomainError, accession: str) -> Refused:
    """The DIMSE answer of a command the domain refused."""
    if isinstance(error, PreconditionFailed):
        return Refused(PROCESSING_FAILURE, error.message)
    if isinstance(error, InvalidTransition):
        return Refused(PROCESSING_FAILURE, f"{accession} is {error.status}; not allowed now")
    if isinstance(error, NotFound):
        return Refused(PROCESSING_FAILURE, f"no exam {accession} at this site")
    if isinstance(error, NotPermitted):
        return Refused(NOT_AUTHORIZED, error.message)
    if isinstance(error, ValidationFailed):
        issue = error.issues[0]
        return Refused(PROCESSING_FAILURE, issue.message)
    if isinstance(error, Conflict):
        return Refused(PROCESSING_FAILURE, f"{accession} changed meanwhile; retry")
    return Refused(PROCESSING_FAILURE, error.message)


def _text(ds: Dataset, keyword: str) -> str:
    return str(ds.get(keyword, "") or "").strip()


def counts_of(ds: Dataset) -> tuple[int, int] | None:
    """(series, images) of a Performed Series Sequence, or None when the dataset has none."""
    if "PerformedSeriesSequence" not in ds:
        return None
    series = list(ds.PerformedSeriesSequence or [])
    images = sum(
        len(item.get("ReferencedImageSequence") or [])
        + len(item.get("ReferencedNonImageCompositeSOPInstanceSequence") or [])
        for item in series
    )
    return len(series), images


def reason_of(ds: Dataset) -> tuple[str, str]:
    """(code value, meaning) of the discontinuation reason; unspecified when none is given."""
    reasons = ds.get("PerformedProcedureStepDiscontinuationReasonCodeSequence") or []
    if not reasons:
        return "110513", UNSPECIFIED
    item = reasons[0]
    return _text(item, "CodeValue"), _text(item, "CodeMeaning") or _text(item, "CodeValue")


_STEP = sa.select(PerformedProcedureStep).where(
    col(PerformedProcedureStep.sop_instance_uid) == sa.bindparam("uid")
)
_OPEN_STEP = sa.select(col(PerformedProcedureStep.id)).where(
    col(PerformedProcedureStep.exam_id) == sa.bindparam("exam_id"),
    col(PerformedProcedureStep.status) == ProcedureStepStatus.IN_PROGRESS,
)
_EXAM_BY_ACCESSION = sa.select(col(Exam.id)).where(
    col(Exam.accession_number) == sa.bindparam("accession")
)


def _step(session: Session, uid: str) -> PerformedProcedureStep | None:
    step: PerformedProcedureStep | None = session.scalars(_STEP, {"uid": uid}).first()
    return step


@dataclass(frozen=True)
class ProcedureSteps:
    """Runs the MPPS a scanner sends against one database."""

    db: Database

    async def _station(self, calling_ae_title: str) -> Station:
        station = await self.db.read(lambda s: find_station(s, calling_ae_title), bounded=True)
        if station is None:
            raise Refused(NOT_AUTHORIZED, f"AE title {calling_ae_title} is no known scanner")
        return station

    @staticmethod
    def actor_at(station: Station) -> Actor:
        """The technologist at this scanner."""
        return Actor(station.ae_title, Role.TECHNOLOGIST, frozenset({station.site_code}))

    async def create(self, calling_ae_title: str, uid: str | None, attributes: Dataset) -> None:
        """N-CREATE: the acquisition of the scheduled exam starts (or a repeat's goes on)."""
        if not uid:
            raise Refused(MISSING_ATTRIBUTE, "Affected SOP Instance UID is required")
        station = await self._station(calling_ae_title)
        status = _text(attributes, "PerformedProcedureStepStatus")
        if status != ProcedureStepStatus.IN_PROGRESS:
            raise Refused(
                INVALID_ATTRIBUTE_VALUE, f"a step is created IN PROGRESS, not {status or 'empty'}"
            )
        scheduled = attributes.get("ScheduledStepAttributesSequence") or []
        accession = _text(scheduled[0], "AccessionNumber") if scheduled else ""
        if not accession:
            raise Refused(MISSING_ATTRIBUTE, "Scheduled Step Attributes need an Accession Number")
        exam_id = await self.db.read(
            lambda s: s.scalar(_EXAM_BY_ACCESSION, {"accession": accession}), bounded=True
        )
        if exam_id is None:
            raise Refused(PROCESSING_FAILURE, f"no exam {accession}")

        def start(uow: UnitOfWork, actor: Actor, pk: int) -> None:
            if _step(uow.session, uid) is not None:
                raise Refused(DUPLICATE_INSTANCE, f"step {uid} exists already")
            exam = uow.session.get(Exam, pk)
            assert exam is not None
            repeating = (
                exam.status == ExamStatus.IN_ACQUISITION
                and uow.session.scalar(_OPEN_STEP, {"exam_id": pk}) is None
            )
            if not repeating:  # a repeat's new attempt is open already: the step joins it
                acquisition.start_acquisition(
                    uow=uow, actor=actor, exam_id=pk, resource_code=station.code
                )
            uow.add(
                PerformedProcedureStep(
                    sop_instance_uid=uid,
                    exam_id=pk,
                    station_ae_title=station.ae_title,
                    status=ProcedureStepStatus.IN_PROGRESS,
                    created_at=uow.now,
                    updated_at=uow.now,
                )
            )

        await self._on_exam("startAcquisition", station, exam_id, accession, start)

    async def update(self, calling_ae_title: str, uid: str | None, changes: Dataset) -> None:
        """N-SET: counts as they come; COMPLETED or DISCONTINUED end the step."""
        if not uid:
            raise Refused(MISSING_ATTRIBUTE, "Requested SOP Instance UID is required")
        station = await self._station(calling_ae_title)
        found = await self.db.read(lambda s: _step(s, uid), bounded=True)
        if found is None:
            raise Refused(NO_SUCH_INSTANCE, f"no step {uid}")
        if found.status != ProcedureStepStatus.IN_PROGRESS:
            raise Refused(NO_LONGER_UPDATABLE, f"the step is {found.status} already")
        status = _text(changes, "PerformedProcedureStepStatus") or ProcedureStepStatus.IN_PROGRESS
        counts = counts_of(changes)
        exam_id = found.exam_id
        accession = str(
            await self.db.read(
                lambda s: s.scalar(
                    sa.select(col(Exam.accession_number)).where(col(Exam.id) == exam_id)
                ),
                bounded=True,
            )
        )

        def record(uow: UnitOfWork, new_status: ProcedureStepStatus, reason: str | None) -> None:
            step = _step(uow.session, uid)
            assert step is not None
            if step.status != ProcedureStepStatus.IN_PROGRESS:  # another N-SET won
                raise Refused(NO_LONGER_UPDATABLE, f"the step is {step.status} already")
            step.status, step.updated_at = new_status, uow.now
            if counts is not None:
                step.series_count, step.image_count = counts
            step.discontinued_reason = reason

        if status == ProcedureStepStatus.IN_PROGRESS:
            await self.db.run(lambda uow: record(uow, ProcedureStepStatus.IN_PROGRESS, None))
            return
        if status == ProcedureStepStatus.COMPLETED:
            series, images = counts or (found.series_count, found.image_count)
            if series is None or images is None:
                raise Refused(MISSING_ATTRIBUTE, "COMPLETED needs the Performed Series Sequence")

            def complete(uow: UnitOfWork, actor: Actor, pk: int) -> None:
                record(uow, ProcedureStepStatus.COMPLETED, None)
                acquisition.complete_acquisition(
                    uow=uow, actor=actor, exam_id=pk, series_count=series, image_count=images
                )

            await self._on_exam("completeAcquisition", station, exam_id, accession, complete)
            return
        if status != ProcedureStepStatus.DISCONTINUED:
            raise Refused(INVALID_ATTRIBUTE_VALUE, f"unknown step status {status}")
        code, meaning = reason_of(changes)
        reason = f"MPPS discontinued: {meaning} ({code})"
        if code in CANCELLING:

            def cancel(uow: UnitOfWork, actor: Actor, pk: int) -> None:
                record(uow, ProcedureStepStatus.DISCONTINUED, reason)
                scheduling.cancel_exam(uow=uow, actor=actor, exam_id=pk, reason=reason)

            await self._on_exam("cancelExam", station, exam_id, accession, cancel)
            return
        why = RepeatReason.EQUIPMENT if code in EQUIPMENT else RepeatReason.OTHER

        def repeat(uow: UnitOfWork, actor: Actor, pk: int) -> None:
            record(uow, ProcedureStepStatus.DISCONTINUED, reason)
            acquisition.request_repeat(uow=uow, actor=actor, exam_id=pk, reason=why, note=reason)

        await self._on_exam("requestRepeat", station, exam_id, accession, repeat)

    async def _on_exam(
        self,
        command: str,
        station: Station,
        exam_id: int,
        accession: str,
        work: Callable[[UnitOfWork, Actor, int], Any],
    ) -> None:
        try:
            await Commands(self.db, self.actor_at(station)).on_exam(
                command, exam_id, work, sent=accession
            )
        except DomainError as refused:
            raise refusal_of(refused, accession) from refused
