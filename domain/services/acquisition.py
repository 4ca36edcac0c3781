"""Stages 3-6: preparation, acquisition and repeats, metadata validation, storage."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from datetime import timedelta

from domain import events as ev
from domain.catalog_data import TURNAROUND_MINUTES
from domain.enums import ExamStatus, Modality, RepeatReason, Role
from domain.errors import (
    FieldIssue,
    HeaderProblemCode,
    IssueCode,
    MetadataInvalid,
    MetadataProblem,
    NotFound,
    ValidationFailed,
)
from domain.lifecycle import Actor, Step, transition
from domain.models import (
    Acquisition,
    Exam,
    MetadataValidation,
    ModalityResource,
    Patient,
    Procedure,
    StoredStudy,
)
from domain.repositories import UnitOfWork
from domain.services._common import (
    Checks,
    GuardFacts,
    find_by,
    load_exam,
    require_role,
)
from domain.types import pk

DICOM_UID = re.compile(r"^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))+$")
PREP_STATUSES = {ExamStatus.ORDERED, ExamStatus.SCHEDULED, ExamStatus.CHECKED_IN}


def complete_prep_item(
    *, uow: UnitOfWork, actor: Actor, exam_id: int, item_code: str, note: str | None = None
) -> Exam:
    """Tick one checklist item; the last one on a checked-in exam makes it PREPARED."""
    require_role(actor, {Role.TECHNOLOGIST, Role.SCHEDULER, Role.ADMIN}, "complete prep items")
    checks = Checks()
    checks.text(note, "note", max_length=500, required=False)
    checks.done()
    exam = load_exam(uow, exam_id)
    if exam.status not in PREP_STATUSES:
        raise ValidationFailed(
            [
                FieldIssue(
                    "exam_id",
                    IssueCode.PREP_CLOSED,
                    f"prep cannot change once the exam is {exam.status}",
                )
            ]
        )
    found = uow.prep.item_and_others_open(exam_id, item_code)
    if found is None:
        raise NotFound("prep item", item_code, field="item_code")
    item, others_open = found
    if item.completed_at is None:
        item.completed_at, item.completed_by, item.note = uow.now, actor.id, note
        uow.emit(
            ev.PrepItemCompleted(
                at=uow.now, actor=actor.id, role=actor.role, exam_id=exam_id, item_code=item_code
            )
        )
    # This item is done now: the checklist is complete when none of the others is open.
    facts = GuardFacts(uow, exam, open_prep_items=others_open)
    if exam.status == ExamStatus.CHECKED_IN and facts.prep_complete():
        transition(exam, Step.COMPLETE_PREP, actor=actor, at=uow.now, facts=facts, recorder=uow)
    return exam


def start_acquisition(
    *,
    uow: UnitOfWork,
    actor: Actor,
    exam_id: int,
    resource_code: str,
    expected_version: int | None = None,
) -> Acquisition:
    """Imaging begins on a scanner; the prep checklist must be complete."""
    exam = load_exam(uow, exam_id, expected_version=expected_version)
    resource = _scanner_for(uow, exam, resource_code)
    # Reads come before the change: a lookup after it would first write the exam on its own.
    before = uow.acquisitions.before_start(exam_id)
    transition(
        exam,
        Step.START_ACQUISITION,
        actor=actor,
        at=uow.now,
        facts=GuardFacts(uow, exam, open_prep_items=before.open_prep_items),
        recorder=uow,
    )
    return _new_attempt(uow, actor, exam, resource, before.attempts + 1)


def _scanner_for(uow: UnitOfWork, exam: Exam, resource_code: str) -> ModalityResource:
    resource = find_by(
        uow,
        ModalityResource,
        "code",
        resource_code,
        entity="modality resource",
        field="resource_code",
    )
    procedure = uow.department.get(Procedure, exam.procedure_id)
    assert procedure is not None
    if resource.modality != procedure.modality:
        raise ValidationFailed(
            [
                FieldIssue(
                    "resource_code",
                    IssueCode.WRONG_MODALITY,
                    f"{resource.code} is {resource.modality.value}; the exam needs "
                    f"{procedure.modality.value}",
                )
            ]
        )
    return resource


def _attempts(uow: UnitOfWork, exam_id: int) -> list[Acquisition]:
    return uow.acquisitions.attempts(exam_id)


def _new_attempt(
    uow: UnitOfWork,
    actor: Actor,
    exam: Exam,
    resource: ModalityResource,
    number: int,
) -> Acquisition:
    attempt = Acquisition(
        exam_id=pk(exam),
        attempt=number,
        resource_id=pk(resource),
        technologist=actor.id,
        started_at=uow.now,
    )
    uow.add(attempt)
    return attempt


def complete_acquisition(
    *,
    uow: UnitOfWork,
    actor: Actor,
    exam_id: int,
    series_count: int,
    image_count: int,
    expected_version: int | None = None,
) -> Acquisition:
    """Imaging finished, with its series and image counts."""
    checks = Checks()
    checks.require(
        1 <= series_count <= 10_000,
        "series_count",
        IssueCode.OUT_OF_RANGE,
        "must be between 1 and 10000",
    )
    checks.require(
        series_count <= image_count <= 1_000_000,
        "image_count",
        IssueCode.OUT_OF_RANGE,
        "must be at least the series count and at most 1000000",
    )
    checks.done()
    exam = load_exam(uow, exam_id, expected_version=expected_version)
    attempts = _attempts(uow, exam_id)
    transition(
        exam,
        Step.COMPLETE_ACQUISITION,
        actor=actor,
        at=uow.now,
        facts=GuardFacts(uow, exam),
        recorder=uow,
    )
    attempt = attempts[-1]
    attempt.ended_at, attempt.series_count, attempt.image_count = uow.now, series_count, image_count
    return attempt


def request_repeat(
    *,
    uow: UnitOfWork,
    actor: Actor,
    exam_id: int,
    reason: RepeatReason,
    note: str | None = None,
    expected_version: int | None = None,
) -> Acquisition:
    """The acquisition must be repeated; the reason is kept for the repeat-rate metric."""
    checks = Checks()
    checks.text(note, "note", max_length=500, required=reason == RepeatReason.OTHER)
    checks.done()
    exam = load_exam(uow, exam_id, expected_version=expected_version)
    attempts = _attempts(uow, exam_id)
    transition(
        exam,
        Step.REQUEST_REPEAT,
        actor=actor,
        at=uow.now,
        facts=GuardFacts(uow, exam),
        recorder=uow,
        reason=f"{reason.value}: {note}" if note else reason.value,
    )
    previous = attempts[-1]
    previous.repeat_reason, previous.repeat_note = reason, note
    resource = uow.department.get(ModalityResource, previous.resource_id)
    assert resource is not None
    return _new_attempt(uow, actor, exam, resource, len(attempts) + 1)


@dataclass(frozen=True)
class StudyHeader:
    """The identifying DICOM header values of an acquired study."""

    accession_number: str
    patient_mrn: str
    modality: Modality
    body_part: str
    procedure_code: str


def check_header(uow: UnitOfWork, exam: Exam, header: StudyHeader) -> list[MetadataProblem]:
    """Each mismatch between a header and the exam's order, one problem per field."""
    problems: list[MetadataProblem] = []

    def problem(field: str, code: HeaderProblemCode, message: str) -> None:
        problems.append(MetadataProblem(field=field, code=code, message=message))

    # The MRN read with the exam (application/commands.py) needs no second statement.
    mrn = uow.mrn_of(exam.patient_id)
    if mrn is None:
        patient = uow.department.get(Patient, exam.patient_id)
        assert patient is not None
        mrn = patient.mrn
    ordered = uow.department.get(Procedure, exam.procedure_id)
    assert ordered is not None
    if header.accession_number != exam.accession_number:
        problem(
            "accession_number",
            HeaderProblemCode.ACCESSION_MISMATCH,
            f"header accession {header.accession_number!r} is not {exam.accession_number}",
        )
    if header.patient_mrn != mrn:
        problem(
            "patient_mrn",
            HeaderProblemCode.PATIENT_MISMATCH,
            f"header patient {header.patient_mrn!r} is not the ordered patient",
        )
    in_catalog = (
        ordered
        if header.procedure_code == ordered.code
        else uow.department.find(Procedure, "code", header.procedure_code)
    )
    if in_catalog is None:
        problem(
            "procedure_code",
            HeaderProblemCode.UNKNOWN_PROCEDURE,
            f"exam code {header.procedure_code!r} is not in the catalog",
        )
    elif in_catalog.id != ordered.id:
        problem(
            "procedure_code",
            HeaderProblemCode.PROCEDURE_MISMATCH,
            f"exam code {header.procedure_code} differs from the ordered {ordered.code}",
        )
    if header.modality != ordered.modality:
        problem(
            "modality",
            HeaderProblemCode.MODALITY_MISMATCH,
            f"modality {header.modality.value} differs from the ordered {ordered.modality.value}",
        )
    if header.body_part.strip().upper() != ordered.body_part.upper():
        problem(
            "body_part",
            HeaderProblemCode.BODY_PART_MISMATCH,
            f"body part {header.body_part!r} differs from the ordered {ordered.body_part}",
        )
    return problems


_HEADER_FIELDS = tuple(f.name for f in fields(StudyHeader))


def _recorded(header: StudyHeader) -> dict[str, str]:
    """The header's fields as text (its values are flat: no `asdict` deep copy is needed)."""
    return {name: str(getattr(header, name)) for name in _HEADER_FIELDS}


def record_validation(
    uow: UnitOfWork,
    actor: Actor,
    exam: Exam,
    header: Mapping[str, str],
    problems: list[MetadataProblem],
    *,
    corrected: bool,
) -> MetadataValidation:
    """One metadata check of an exam's study, with the header fields it recorded, and its event."""
    validation = MetadataValidation(
        exam_id=pk(exam),
        attempt=uow.acquisitions.before_start(pk(exam)).attempts or None,
        validated_at=uow.now,
        validated_by=actor.id,
        header=dict(header),
        problems=[asdict(p) for p in problems],
        valid=not problems,
        corrected=corrected,
    )
    uow.add(validation)
    assert exam.id is not None
    uow.emit(
        ev.MetadataValidated(
            at=uow.now,
            actor=actor.id,
            role=actor.role,
            exam_id=exam.id,
            valid=not problems,
            problem_count=len(problems),
        )
    )
    return validation


def validate_metadata(
    *,
    uow: UnitOfWork,
    actor: Actor,
    exam_id: int,
    header: StudyHeader,
    expected_version: int | None = None,
) -> MetadataValidation:
    """Check an acquired study's header against its order; a mismatch rejects it."""
    require_role(
        actor, {Role.TECHNOLOGIST, Role.INTEGRATION, Role.SYSTEM, Role.ADMIN}, "validate metadata"
    )
    exam = load_exam(uow, exam_id, expected_version=expected_version)
    require_acquired(exam)
    problems = check_header(uow, exam, header)
    return judge_header(
        uow, actor, exam, _recorded(header), problems, "; ".join(p.code for p in problems)
    )


def require_acquired(exam: Exam) -> None:
    """Only an ACQUIRED exam's study header is validated."""
    if exam.status != ExamStatus.ACQUIRED:
        raise ValidationFailed(
            [
                FieldIssue(
                    "exam_id",
                    IssueCode.NOT_ACQUIRED,
                    f"only an ACQUIRED study is validated (is {exam.status})",
                )
            ]
        )


def judge_header(
    uow: UnitOfWork,
    actor: Actor,
    exam: Exam,
    recorded: Mapping[str, str],
    problems: list[MetadataProblem],
    reason: str,
) -> MetadataValidation:
    """Record a header's validation and reject the metadata (with `reason`) when it has
    problems; for a header typed by a technologist and for one read from the PACS alike."""
    validation = record_validation(uow, actor, exam, recorded, problems, corrected=False)
    if problems:
        transition(
            exam,
            Step.REJECT_METADATA,
            actor=actor,
            at=uow.now,
            facts=GuardFacts(uow, exam),
            recorder=uow,
            reason=reason,
        )
    return validation


def correct_metadata(
    *,
    uow: UnitOfWork,
    actor: Actor,
    exam_id: int,
    header: StudyHeader,
    reason: str,
    expected_version: int | None = None,
) -> MetadataValidation:
    """Correct a rejected header; it goes back to ACQUIRED only if it now validates."""
    checks = Checks()
    checks.text(reason, "reason", max_length=500)
    checks.done()
    exam = load_exam(uow, exam_id, expected_version=expected_version)
    problems = check_header(uow, exam, header)
    if problems and exam.status == ExamStatus.METADATA_REJECTED:
        raise MetadataInvalid(problems)
    transition(
        exam,
        Step.CORRECT_METADATA,
        actor=actor,
        at=uow.now,
        facts=GuardFacts(uow, exam),
        recorder=uow,
        reason=reason,
    )
    return record_validation(uow, actor, exam, _recorded(header), problems, corrected=True)


def register_storage(
    *,
    uow: UnitOfWork,
    actor: Actor,
    exam_id: int,
    study_instance_uid: str,
    archive_location: str,
    expected_version: int | None = None,
) -> StoredStudy:
    """The study is in the archive and ready to read; its due time starts now."""
    checks = Checks()
    checks.require(
        len(study_instance_uid) <= 64 and bool(DICOM_UID.match(study_instance_uid)),
        "study_instance_uid",
        IssueCode.INVALID_UID,
        "must be a DICOM UID: digits and dots, at most 64 characters",
    )
    checks.text(archive_location, "archive_location", max_length=255)
    checks.done()
    exam = load_exam(uow, exam_id, expected_version=expected_version)
    # Read what the checks, the guard, the new row and the due time need before changing
    # anything, so the exam is written once (a lookup after a change writes it first).
    facts = uow.acquisitions.storage_facts(exam_id, study_instance_uid)
    if facts.uid_taken:
        raise ValidationFailed(
            [
                FieldIssue(
                    "study_instance_uid",
                    IssueCode.DUPLICATE_UID,
                    "another study is stored under this UID",
                )
            ]
        )
    minutes = turnaround_minutes(uow, exam)
    transition(
        exam,
        Step.REGISTER_STORAGE,
        actor=actor,
        at=uow.now,
        facts=GuardFacts(uow, exam, metadata_valid=facts.metadata_valid),
        recorder=uow,
    )
    study = StoredStudy(
        exam_id=pk(exam),
        study_instance_uid=study_instance_uid,
        archive_location=archive_location.strip(),
        available_at=uow.now,
        series_count=facts.series_count or 0,
        image_count=facts.image_count or 0,
    )
    uow.add(study)
    exam.ready_at = uow.now
    exam.due_at = uow.now + timedelta(minutes=minutes)
    return study


def turnaround_minutes(uow: UnitOfWork, exam: Exam) -> int:
    """The exam's turnaround target: its procedure's, else the catalogue's for its class."""
    minutes = uow.department.turnaround_minutes(
        exam.procedure_id, exam.priority, exam.patient_class
    )
    if minutes is None:
        return TURNAROUND_MINUTES[(exam.priority, exam.patient_class)]
    return minutes
