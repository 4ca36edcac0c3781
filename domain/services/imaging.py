"""Stages 5-6 for a study the PACS holds: its own DICOM header checked against the order.

The header a PACS reports carries the patient's name and birth date as well as the identifiers
`acquisition.check_header` compares, so these checks add them; the recorded validation keeps
the identifiers only (the names stay out of a row every technologist can read).
"""

from __future__ import annotations

from dataclasses import dataclass

from domain.enums import Modality, Role
from domain.errors import (
    HeaderProblemCode,
    MetadataInvalid,
    MetadataProblem,
)
from domain.lifecycle import Actor, Step, transition
from domain.models import Exam, MetadataValidation, Patient, Procedure
from domain.repositories import UnitOfWork
from domain.services._common import GuardFacts, load_exam, require_role
from domain.services.acquisition import (
    StudyHeader,
    check_header,
    judge_header,
    record_validation,
    require_acquired,
)


@dataclass(frozen=True)
class ArchivedHeader:
    """What a stored study's DICOM header says, as the PACS reports it (DICOM formats)."""

    accession_number: str
    patient_id: str
    patient_name: str  # PN: family^given^...
    birth_date: str  # DA: YYYYMMDD
    modality: str
    body_part: str


def _family_and_given(name: str) -> tuple[str, str]:
    parts = [p.strip().casefold() for p in name.split("^")]
    return (parts[0] if parts else ""), (parts[1] if len(parts) > 1 else "")


def archived_problems(uow: UnitOfWork, exam: Exam, header: ArchivedHeader) -> list[MetadataProblem]:
    """Each field where the study's header disagrees with its order."""
    patient = uow.department.get(Patient, exam.patient_id)
    ordered = uow.department.get(Procedure, exam.procedure_id)
    assert patient is not None and ordered is not None
    known = header.modality in {m.value for m in Modality}
    problems = check_header(
        uow,
        exam,
        StudyHeader(
            accession_number=header.accession_number,
            patient_mrn=header.patient_id,
            modality=Modality(header.modality) if known else ordered.modality,
            body_part=header.body_part,
            procedure_code=ordered.code,  # a stored study names the order by its accession
        ),
    )
    if not known:
        problems.append(
            MetadataProblem(
                field="modality",
                code=HeaderProblemCode.MODALITY_MISMATCH,
                message=f"modality {header.modality!r} differs from the ordered "
                f"{ordered.modality.value}",
            )
        )
    if _family_and_given(header.patient_name) != (
        patient.family_name.strip().casefold(),
        patient.given_name.strip().casefold(),
    ):
        problems.append(
            MetadataProblem(
                field="patient_name",
                code=HeaderProblemCode.PATIENT_MISMATCH,
                message="header patient name is not the ordered patient's",
            )
        )
    if header.birth_date != patient.birth_date.strftime("%Y%m%d"):
        problems.append(
            MetadataProblem(
                field="birth_date",
                code=HeaderProblemCode.PATIENT_MISMATCH,
                message="header birth date is not the ordered patient's",
            )
        )
    return problems


def _recorded(header: ArchivedHeader) -> dict[str, str]:
    """The identifiers of the header (its names and birth date stay out of the record)."""
    return {
        "accession_number": header.accession_number,
        "patient_mrn": header.patient_id,
        "modality": header.modality,
        "body_part": header.body_part,
    }


def validate_archived_study(
    *, uow: UnitOfWork, actor: Actor, exam_id: int, header: ArchivedHeader
) -> MetadataValidation:
    """Check a stored study's header against its ACQUIRED exam; a mismatch rejects it."""
    require_role(
        actor, {Role.TECHNOLOGIST, Role.INTEGRATION, Role.SYSTEM, Role.ADMIN}, "validate metadata"
    )
    exam = load_exam(uow, exam_id)
    require_acquired(exam)
    problems = archived_problems(uow, exam, header)
    reason = "; ".join(f"{p.field}: {p.code}" for p in problems)
    return judge_header(uow, actor, exam, _recorded(header), problems, reason)


def correct_archived_study(
    *, uow: UnitOfWork, actor: Actor, exam_id: int, header: ArchivedHeader, reason: str
) -> MetadataValidation:
    """A rejected study's corrected header: back to ACQUIRED only if it now validates."""
    exam = load_exam(uow, exam_id)
    problems = archived_problems(uow, exam, header)
    if problems:
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
