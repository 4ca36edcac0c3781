"""An order changed by its source after it was placed, and two records of one patient merged.

What may still change depends on how far the exam has gone:

- the priority, the patient class, the ordering referrer, the indication and its ICD-10 code:
  until a radiologist opens the read (the reader reads with the order as it then stands; after
  that the order is what was reported on);
- the requested procedure: only while the exam is ORDERED (a booking is made for one procedure
  on one scanner; after that the order must be cancelled and placed again), and only while no
  prep item of its checklist is done.

A change that is no longer allowed is refused naming the field and why, and nothing of the
change is written. A change to the value the order already has is no change: nothing is
written and no event is emitted, so a re-sent change is harmless.
"""

from __future__ import annotations

from dataclasses import dataclass

from domain import events as ev
from domain.enums import ExamStatus, PatientClass, Priority, Role
from domain.errors import FieldIssue, IssueCode, NotFound, ValidationFailed
from domain.lifecycle import Actor
from domain.models import Exam, Patient, Procedure, Referrer
from domain.repositories import UnitOfWork
from domain.services._common import Checks, find_by, load_exam, require_role
from domain.services.orders import ICD10, ORDER_ON_BEHALF
from domain.types import pk

S = ExamStatus
# Until the read is opened.
BEFORE_READ = frozenset(
    {
        S.ORDERED,
        S.SCHEDULED,
        S.CHECKED_IN,
        S.PREPARED,
        S.IN_ACQUISITION,
        S.ACQUIRED,
        S.METADATA_REJECTED,
        S.READY_FOR_READ,
    }
)
# While each field may change (docs/interop.md prints this table).
CHANGEABLE_WHILE: dict[str, frozenset[ExamStatus]] = {
    "priority": BEFORE_READ,
    "patient_class": BEFORE_READ,
    "referrer_code": BEFORE_READ,
    "indication": BEFORE_READ,
    "icd10_code": BEFORE_READ,
    "procedure_code": frozenset({S.ORDERED}),
}
MERGING = {Role.INTEGRATION, Role.ADMIN}


@dataclass(frozen=True)
class OrderChange:
    """The order's fields as the source now sends them; None: not sent, left as it is."""

    priority: Priority | None = None
    patient_class: PatientClass | None = None
    referrer_code: str | None = None
    procedure_code: str | None = None
    indication: str | None = None
    icd10_code: str | None = None


def change_order(
    *,
    uow: UnitOfWork,
    actor: Actor,
    exam_id: int,
    change: OrderChange,
    expected_version: int | None = None,
) -> list[str]:
    """Apply the fields of `change` that differ from the order; the changes made, as text."""
    require_role(actor, set(ORDER_ON_BEHALF), "change orders")
    checks = Checks()
    if change.indication is not None:
        checks.text(change.indication, "indication", max_length=2000)
    if change.icd10_code is not None:
        checks.require(
            bool(ICD10.match(change.icd10_code)),
            "icd10_code",
            IssueCode.INVALID_FORMAT,
            "must be an ICD-10 code such as R51 or S06.5",
        )
    checks.done()
    exam = load_exam(uow, exam_id, expected_version=expected_version)
    procedure = uow.department.get(Procedure, exam.procedure_id)
    referrer = uow.department.get(Referrer, exam.referrer_id)
    assert procedure is not None and referrer is not None
    now: dict[str, object] = {
        "priority": exam.priority,
        "patient_class": exam.patient_class,
        "referrer_code": referrer.code,
        "procedure_code": procedure.code,
        "indication": exam.indication,
        "icd10_code": exam.icd10_code,
    }
    sent: dict[str, object] = {
        name: value.strip() if isinstance(value, str) else value
        for name, value in vars(change).items()
        if value is not None
    }
    differing = {name: value for name, value in sent.items() if value != now[name]}
    refused = [
        FieldIssue(
            field=name,
            code=IssueCode.NOT_EDITABLE,
            message=f"{name} can no longer change: the exam is {exam.status.value} (it may "
            f"change while {', '.join(sorted(s.value for s in CHANGEABLE_WHILE[name]))})",
        )
        for name in differing
        if exam.status not in CHANGEABLE_WHILE[name]
    ]
    prep_begun = "procedure_code" in differing and any(
        item.completed_at is not None for item in uow.prep.items(exam_id)
    )
    if prep_begun and not refused:
        refused.append(
            FieldIssue(
                field="procedure_code",
                code=IssueCode.NOT_EDITABLE,
                message="procedure_code can no longer change: its prep has begun",
            )
        )
    if refused:
        raise ValidationFailed(refused)
    if not differing:
        return []
    if "procedure_code" in differing:  # first: its checklist's rows are flushed on their own
        code = differing["procedure_code"]
        chosen = find_by(uow, Procedure, "code", code, entity="procedure", field="procedure_code")
        _replace_prep(uow, exam, chosen)
        exam.procedure_id = pk(chosen)
        uow.hold(chosen)
    if "referrer_code" in differing:
        code = differing["referrer_code"]
        found = find_by(uow, Referrer, "code", code, entity="referrer", field="referrer_code")
        exam.referrer_id = pk(found)
    for name in ("priority", "patient_class", "indication", "icd10_code"):
        if name in differing:
            setattr(exam, name, differing[name])
    changes = tuple(
        f"{name}: {_shown(now[name])} -> {_shown(value)}" for name, value in differing.items()
    )
    uow.emit(
        ev.OrderChanged(
            at=uow.now,
            actor=actor.id,
            role=actor.role,
            exam_id=exam_id,
            accession_number=exam.accession_number,
            site_id=exam.site_id,
            status=exam.status,
            changes=changes,
        )
    )
    return list(changes)


def _shown(value: object) -> str:
    text = str(getattr(value, "value", value))
    return text if len(text) <= 60 else text[:57] + "..."


def _replace_prep(uow: UnitOfWork, exam: Exam, procedure: Procedure) -> None:
    """The checklist of the new procedure instead of the old one's (none of it was done)."""
    for item in uow.prep.items(pk(exam)):
        uow.delete(item)
    if procedure.prep_protocol_id is not None:
        uow.flush()  # the old items go before the new ones take their positions
        uow.prep.copy_protocol(pk(exam), procedure.prep_protocol_id)


@dataclass(frozen=True)
class MergedPatients:
    """The surviving patient and the exams that moved to them."""

    patient: Patient
    exam_ids: tuple[int, ...]


def merge_patients(
    *, uow: UnitOfWork, actor: Actor, surviving_mrn: str, prior_mrn: str
) -> MergedPatients:
    """Merge the prior patient into the surviving one: every exam of the prior record follows
    the surviving MRN, and the prior record is retired (its MRN then names no one).

    Every exam moved must be one the actor may see; otherwise nothing moves (the answer is
    the same `NotFound` as for an unknown prior patient, so a merge reveals nothing).
    """
    require_role(actor, MERGING, "merge patients")
    if surviving_mrn == prior_mrn:
        raise ValidationFailed(
            [
                FieldIssue(
                    field="prior_mrn",
                    code=IssueCode.INVALID_VALUE,
                    message="the prior MRN must differ from the surviving patient's MRN",
                )
            ]
        )
    surviving = find_by(uow, Patient, "mrn", surviving_mrn, entity="patient", field="mrn")
    prior = find_by(uow, Patient, "mrn", prior_mrn, entity="patient", field="prior_mrn")
    moving = uow.exams.of_patient(pk(prior))
    ids = [pk(exam) for exam in moving]
    if len(uow.exams.visible_to(actor, ids)) != len(ids):
        raise NotFound("patient", prior_mrn, field="prior_mrn")
    for exam in moving:
        exam.patient_id = pk(surviving)
    uow.hold(*moving)  # until the audit record has listed them
    uow.flush()  # the exams point at the surviving patient before the prior record goes
    uow.delete(prior)
    uow.name_patient(pk(surviving), surviving.mrn)
    uow.name_patient(pk(prior), prior.mrn)
    uow.emit(
        ev.PatientsMerged(
            at=uow.now,
            actor=actor.id,
            role=actor.role,
            surviving_patient_id=pk(surviving),
            surviving_mrn=surviving.mrn,
            prior_patient_id=pk(prior),
            prior_mrn=prior.mrn,
            exam_ids=tuple(ids),
        )
    )
    return MergedPatients(patient=surviving, exam_ids=tuple(ids))
