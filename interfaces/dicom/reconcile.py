"""Reconciliation: a study the PACS holds that no order matched, attached to its exam by hand.

A study scanned during downtime, or an emergency scanned before registration, reaches the PACS
with identifiers radflow does not know. It waits in the list of unmatched studies until a
supervisor attaches it to an exam (`reconcileStudy`): the study's header is then fixed in the
PACS through Orthanc's API (patient id, name, birth date and accession of the exam's order, the
study's UIDs kept), and the fixed study comes back through the changes feed like any other, to
be checked and stored (or to wait until its exam is acquired). The attachment is audited.

When no exam exists (an emergency scanned before registration), the reconciler may have the
order created instead (`NewOrder`): the patient is the one with the header's patient id as MRN,
or is registered from the header (name, birth date, sex); the order is placed by
`orders.place_order`, as `placeOrder` places one, with the PACS as its source and the Study
Instance UID as its placer number (so a retry finds the same order), by the integration actor
`reconcile:<reconciler>`; the acquisition that already happened is recorded on the site's
scanner of the procedure's modality, as the technologist at that scanner (as MPPS records
one): check-in (the order is STAT or ED, so no appointment is needed), start (the prep gate
holds), complete with the study's counts. The exam is then ACQUIRED and the study attached
and fixed as above; the fixed study comes back through the feed and makes it ready to read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlmodel import col

from application.authorization import authorize
from application.commands import Commands
from domain.db import Database, UnitOfWork
from domain.enums import ExamStatus, PatientClass, Priority, Role
from domain.errors import FieldIssue, IssueCode, NotFound, ValidationFailed
from domain.lifecycle import Actor
from domain.models import (
    ArchivedStudy,
    ArchivedStudyState,
    Exam,
    ModalityResource,
    Patient,
    Procedure,
    Site,
)
from domain.services import acquisition, orders, scheduling
from domain.services._common import Checks
from interfaces.dicom.pacs import Orthanc

ORDER_SOURCE = "PACS"  # orders created from a study: their placer number is its UID

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


@dataclass(frozen=True, kw_only=True)
class NewOrder:
    """The order to create for a study no exam exists for, as the reconciler chose it."""

    procedure_code: str
    site_code: str
    referrer_code: str
    indication: str
    icd10_code: str
    priority: Priority = Priority.STAT
    patient_class: PatientClass = PatientClass.ED
    resource_code: str | None = None  # the scanner; default: the site's one of the modality


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
    exam_id: int | None,
    reason: str,
    sent: str,
    new_order: NewOrder | None = None,
) -> tuple[Reconciled, Exam]:
    """Attach an unmatched study to an exam the actor may see (or to the order created for it
    from `new_order`), fixing its header in the PACS."""
    checks = Checks()
    checks.text(reason, "reason", max_length=500)
    checks.require(
        (exam_id is None) != (new_order is None),
        "exam_id",
        IssueCode.INVALID_VALUE,
        "name either the exam (examId) or the order to create (newOrder), not both",
    )
    checks.done()
    authorize(actor, "reconcileStudy")  # before the PACS is asked anything
    commands = Commands(db, actor)
    if new_order is not None:
        if orthanc is None:  # nothing is created for a study whose header cannot be fixed
            raise ValidationFailed(
                [FieldIssue("pacs_id", IssueCode.INVALID_VALUE, "no PACS is configured")]
            )
        sex = await _patient_sex(orthanc, pacs_id)
        exam_id = await commands.run(
            "reconcileStudy",
            lambda uow: order_for_study(uow, actor, pacs_id=pacs_id, order=new_order, sex=sex),
        )
        sent = pacs_id
    assert exam_id is not None

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
        row = uow.session.scalar(
            sa.select(ArchivedStudy).where(col(ArchivedStudy.pacs_id) == pacs_id)
        )
        if row is not None and row.exam_id == pk and row.state != ArchivedStudyState.UNMATCHED:
            # The fixed study kept the original's PACS id (same patient id and UIDs) and the
            # follower has already matched it to the exam: it is attached.
            return Reconciled(row, fixed)
        row = _unmatched(uow, pacs_id)
        row.state, row.exam_id, row.updated_at = ArchivedStudyState.RECONCILED, pk, uow.now
        row.problems = [{"field": "reconciled", "code": "RECONCILED", "message": reason}]
        header: dict[str, Any] = dict(row.header)
        header["fixed_pacs_id"] = fixed
        header["reconciled_by"] = actor.id
        row.header = header
        return Reconciled(row, fixed)

    return await commands.on_exam("reconcileStudy", exam_id, record, sent=sent)


async def _patient_sex(orthanc: Orthanc, pacs_id: str) -> str:
    """The header's Patient's Sex (M, F, O; U when absent), which radflow's record lacks."""
    try:
        response = await orthanc.client.get(f"/studies/{pacs_id}")
    except httpx.HTTPError as refused:
        raise ValidationFailed(
            [FieldIssue("pacs_id", IssueCode.INVALID_VALUE, f"the PACS is unreachable: {refused}")]
        ) from refused
    if response.status_code == 404:
        raise NotFound("unmatched study", pacs_id, field="pacs_id")
    response.raise_for_status()
    sex = str(response.json().get("PatientMainDicomTags", {}).get("PatientSex", "")).strip()
    return sex if sex in {"M", "F", "O"} else "U"


def _header_patient(header: dict[str, Any]) -> tuple[str, str, str, date]:
    """(MRN, family, given, birth date) from the study's header; the fields it lacks refused."""
    mrn = str(header.get("patient_id", "")).strip()
    family, _, rest = str(header.get("patient_name", "")).partition("^")
    given = rest.split("^")[0]
    born = str(header.get("birth_date", "")).strip()
    checks = Checks()
    checks.require(bool(mrn), "pacs_id", IssueCode.REQUIRED, "the header has no Patient ID")
    checks.require(
        bool(family.strip() and given.strip()),
        "pacs_id",
        IssueCode.REQUIRED,
        "the header's Patient's Name has no family and given name",
    )
    try:
        birth_date = datetime.strptime(born, "%Y%m%d").date()
    except ValueError:
        checks.require(
            False, "pacs_id", IssueCode.INVALID_FORMAT, f"the header's birth date {born!r}"
        )
        birth_date = date.min
    checks.done()
    return mrn, family.strip(), given.strip(), birth_date


def order_for_study(
    uow: UnitOfWork, actor: Actor, *, pacs_id: str, order: NewOrder, sex: str
) -> int:
    """Create the order of an unmatched study and record its acquisition; the exam's id."""
    study = _unmatched(uow, pacs_id)
    orderer = Actor(f"reconcile:{actor.id}"[:64], Role.INTEGRATION)
    mrn, family, given, born = _header_patient(study.header)
    if uow.session.scalar(sa.select(col(Patient.id)).where(col(Patient.mrn) == mrn)) is None:
        orders.register_patient(
            uow=uow,
            actor=orderer,
            mrn=mrn,
            given_name=given,
            family_name=family,
            birth_date=born,
            sex=sex,
        )
    placed = orders.place_order(
        uow=uow,
        actor=orderer,
        order_source=ORDER_SOURCE,
        placer_order_number=study.study_instance_uid,
        patient_mrn=mrn,
        referrer_code=order.referrer_code,
        procedure_code=order.procedure_code,
        site_code=order.site_code,
        priority=order.priority,
        patient_class=order.patient_class,
        indication=order.indication,
        icd10_code=order.icd10_code,
    )
    exam = placed.exam
    assert exam.id is not None
    if exam.status == ExamStatus.ACQUIRED:  # created by an earlier try whose PACS fix failed
        return exam.id
    scanner = _scanner(uow, exam, order)
    site = uow.session.get(Site, scanner.site_id)
    assert site is not None
    technologist = Actor(
        scanner.ae_title or scanner.code, Role.TECHNOLOGIST, frozenset({site.code})
    )
    scheduling.check_in(uow=uow, actor=technologist, exam_id=exam.id)
    acquisition.start_acquisition(
        uow=uow, actor=technologist, exam_id=exam.id, resource_code=scanner.code
    )
    acquisition.complete_acquisition(
        uow=uow,
        actor=technologist,
        exam_id=exam.id,
        series_count=max(study.series_count, 1),
        image_count=max(study.image_count, 1),
    )
    return exam.id


def _scanner(uow: UnitOfWork, exam: Exam, order: NewOrder) -> ModalityResource:
    """The scanner the study was made on: the one named, else the site's first (by code) of
    the procedure's modality."""
    procedure = uow.session.get(Procedure, exam.procedure_id)
    site = uow.session.get(Site, exam.site_id)
    assert procedure is not None and site is not None
    if order.resource_code is not None:
        return uow.session.scalars(
            sa.select(ModalityResource).where(col(ModalityResource.code) == order.resource_code)
        ).first() or _no_scanner(f"no scanner {order.resource_code}")
    found = uow.session.scalars(
        sa.select(ModalityResource)
        .where(
            col(ModalityResource.site_id) == exam.site_id,
            col(ModalityResource.modality) == procedure.modality,
            col(ModalityResource.active).is_(True),
        )
        .order_by(col(ModalityResource.code))
    ).first()
    return found or _no_scanner(f"{site.code} has no {procedure.modality.value} scanner")


def _no_scanner(message: str) -> ModalityResource:
    raise ValidationFailed([FieldIssue("resource_code", IssueCode.NOT_FOUND, message)])
