"""Reconciliation: a study the PACS holds that no order matched, attached to its exam by hand.

A study scanned during downtime, or an emergency scanned before registration, reaches the PACS
with identifiers radflow does not know. It waits in the list of unmatched studies until a
supervisor attaches it to an exam (`reconcileStudy`): the study's header is then fixed in the
PACS through Orthanc's API (patient id, name, birth date and accession of the exam's order, the
study's UIDs kept), and the fixed study comes back through the changes feed like any other, to
be checked and stored (or to wait until its exam is acquired). The attachment is audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlmodel import col

from application.commands import Commands
from domain.db import Database, UnitOfWork
from domain.errors import FieldIssue, IssueCode, NotFound, ValidationFailed
from domain.lifecycle import Actor
from domain.models import ArchivedStudy, ArchivedStudyState, Exam, Patient
from domain.services._common import Checks
from interfaces.dicom.pacs import Orthanc

_UNMATCHED = sa.select(ArchivedStudy).where(
    col(ArchivedStudy.state) == ArchivedStudyState.UNMATCHED
)


def unmatched_studies(session: Session, first: int) -> list[ArchivedStudy]:
    """The studies no order matched, oldest first."""
    return list(session.scalars(_UNMATCHED.order_by(col(ArchivedStudy.id)).limit(first)))


def _unmatched(uow: UnitOfWork, pacs_id: str) -> ArchivedStudy:
    row: ArchivedStudy | None = uow.session.scalar(
        _UNMATCHED.where(col(ArchivedStudy.pacs_id) == pacs_id)
    )
    if row is None:
        raise NotFound("unmatched study", pacs_id, field="pacs_id")
    return row


@dataclass(frozen=True)
class Reconciled:
    """The study as now recorded, and the id of its fixed copy in the PACS."""

    study: ArchivedStudy
    fixed_pacs_id: str


async def reconcile_study(
    db: Database,
    actor: Actor,
    orthanc: Orthanc | None,
    *,
    pacs_id: str,
    exam_id: int,
    reason: str,
    sent: str,
) -> tuple[Reconciled, Exam]:
    """Attach an unmatched study to an exam the actor may see, fixing its header in the PACS."""
    checks = Checks()
    checks.text(reason, "reason", max_length=500)
    checks.done()
    commands = Commands(db, actor)

    def header_fix(uow: UnitOfWork, _: Actor, pk: int) -> dict[str, str]:
        _unmatched(uow, pacs_id)
        exam = uow.session.get(Exam, pk)
        assert exam is not None
        patient = uow.session.get(Patient, exam.patient_id)
        assert patient is not None
        return {
            "PatientID": patient.mrn,
            "PatientName": f"{patient.family_name}^{patient.given_name}",
            "PatientBirthDate": patient.birth_date.strftime("%Y%m%d"),
            "AccessionNumber": exam.accession_number,
        }

    fix, _ = await commands.on_exam("reconcileStudy", exam_id, header_fix, sent=sent)
    if orthanc is None:
        raise ValidationFailed(
            [FieldIssue("pacs_id", IssueCode.INVALID_VALUE, "no PACS is configured")]
        )
    try:
        fixed = await orthanc.fix(pacs_id, fix)
    except httpx.HTTPError as refused:
        raise ValidationFailed(
            [FieldIssue("pacs_id", IssueCode.INVALID_VALUE, f"the PACS refused the fix: {refused}")]
        ) from refused

    def record(uow: UnitOfWork, _: Actor, pk: int) -> Reconciled:
        row = _unmatched(uow, pacs_id)
        row.state, row.exam_id, row.updated_at = ArchivedStudyState.RECONCILED, pk, uow.now
        row.problems = [{"field": "reconciled", "code": "RECONCILED", "message": reason}]
        header: dict[str, Any] = dict(row.header)
        header["fixed_pacs_id"] = fixed
        header["reconciled_by"] = actor.id
        row.header = header
        return Reconciled(row, fixed)

    return await commands.on_exam("reconcileStudy", exam_id, record, sent=sent)
