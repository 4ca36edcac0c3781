"""Expected failures of domain commands, as exceptions that carry data.

The API maps each to a typed member of the mutation's result union; nothing about GraphQL lives
here. Every error has a stable `code`, a human `message` and, where it concerns one input, a
`field` path.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class IssueCode(StrEnum):
    """What is wrong with one input field (`FieldIssue.code`); clients branch on it."""

    REQUIRED = "REQUIRED"
    TOO_LONG = "TOO_LONG"
    CONTROL_CHARACTERS = "CONTROL_CHARACTERS"
    INVALID_FORMAT = "INVALID_FORMAT"
    INVALID_VALUE = "INVALID_VALUE"
    INVALID_ID = "INVALID_ID"
    INVALID_CURSOR = "INVALID_CURSOR"
    INVALID_UID = "INVALID_UID"
    INVALID_RANGE = "INVALID_RANGE"
    RANGE_TOO_LONG = "RANGE_TOO_LONG"
    OUT_OF_RANGE = "OUT_OF_RANGE"
    IN_PAST = "IN_PAST"
    IN_FUTURE = "IN_FUTURE"
    NOT_FOUND = "NOT_FOUND"
    DUPLICATE_UID = "DUPLICATE_UID"
    PLACER_ORDER_REUSED = "PLACER_ORDER_REUSED"
    WRONG_MODALITY = "WRONG_MODALITY"
    OUTSIDE_OPENING_HOURS = "OUTSIDE_OPENING_HOURS"
    NOT_SCHEDULED = "NOT_SCHEDULED"
    APPOINTMENT_NOT_STARTED = "APPOINTMENT_NOT_STARTED"
    PREP_CLOSED = "PREP_CLOSED"
    NOT_ACQUIRED = "NOT_ACQUIRED"
    NOT_READY_FOR_READ = "NOT_READY_FOR_READ"
    NOT_ELIGIBLE = "NOT_ELIGIBLE"
    NOT_PINNED = "NOT_PINNED"
    NOT_ON_YOUR_WORKLIST = "NOT_ON_YOUR_WORKLIST"
    NOT_EDITABLE = "NOT_EDITABLE"
    UNKNOWN_SECTION = "UNKNOWN_SECTION"
    UNKNOWN_FIELD = "UNKNOWN_FIELD"
    NOT_REPORTED = "NOT_REPORTED"
    NOT_COMMUNICATED = "NOT_COMMUNICATED"
    NOT_COMPLETED = "NOT_COMPLETED"
    NOT_OPEN = "NOT_OPEN"
    NOT_OPENED = "NOT_OPENED"
    ALREADY_SUBMITTED = "ALREADY_SUBMITTED"
    READ_BACK_REQUIRED = "READ_BACK_REQUIRED"
    LINK_EXPIRED = "LINK_EXPIRED"
    LINK_INVALID = "LINK_INVALID"
    SHIFT_OPEN = "SHIFT_OPEN"
    NO_OPEN_SHIFT = "NO_OPEN_SHIFT"
    USE_END_SHIFT = "USE_END_SHIFT"
    ALREADY_ACTIVE = "ALREADY_ACTIVE"
    LEGAL_HOLD = "LEGAL_HOLD"
    NOT_EXPIRED = "NOT_EXPIRED"


class Condition(StrEnum):
    """A lifecycle guard that did not hold (`PreconditionFailed.code`)."""

    NOT_FAST_TRACK = "NOT_FAST_TRACK"
    PREP_INCOMPLETE = "PREP_INCOMPLETE"
    METADATA_NOT_VALIDATED = "METADATA_NOT_VALIDATED"
    REPORT_INCOMPLETE = "REPORT_INCOMPLETE"
    NO_FINAL_REPORT = "NO_FINAL_REPORT"
    CRITICAL_RESULT_UNACKNOWLEDGED = "CRITICAL_RESULT_UNACKNOWLEDGED"


class HeaderProblemCode(StrEnum):
    """How a study's DICOM header differs from its order (`MetadataProblem.code`)."""

    ACCESSION_MISMATCH = "ACCESSION_MISMATCH"
    PATIENT_MISMATCH = "PATIENT_MISMATCH"
    UNKNOWN_PROCEDURE = "UNKNOWN_PROCEDURE"
    PROCEDURE_MISMATCH = "PROCEDURE_MISMATCH"
    MODALITY_MISMATCH = "MODALITY_MISMATCH"
    BODY_PART_MISMATCH = "BODY_PART_MISMATCH"


class DomainError(Exception):
    """Base of all expected failures; the transaction is rolled back and nothing is written."""

    code: str = "DOMAIN_ERROR"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class NotFound(DomainError):
    """A referenced object does not exist (or is not visible).

    `key` is what the caller sent (an accession number, a code, a global id), never a row id:
    the message repeats it so the caller recognises their own input. A service that was handed
    a row id leaves `key` out; the transport, which knows what its caller sent, names it.
    """

    code = "NOT_FOUND"

    def __init__(self, entity: str, key: str | None = None, *, field: str | None = None) -> None:
        super().__init__(
            f"{entity} {key} does not exist" if key is not None else f"the {entity} does not exist",
            field=field,
        )
        self.entity = entity
        self.key = key


class InvalidTransition(DomainError):
    """The exam's current status does not allow this step."""

    code = "INVALID_TRANSITION"

    def __init__(self, *, exam_id: int, status: str, step: str, allowed: tuple[str, ...]) -> None:
        allowed_text = ", ".join(allowed) if allowed else "none"
        super().__init__(
            f"cannot {step.lower().replace('_', ' ')} an exam that is {status}; "
            f"allowed from: {allowed_text}"
        )
        self.exam_id = exam_id
        self.status = status
        self.step = step
        self.allowed = allowed


class PreconditionFailed(DomainError):
    """The transition is allowed from this status, but one of its guards does not hold."""

    def __init__(self, condition: Condition, message: str, *, field: str | None = None) -> None:
        super().__init__(message, field=field)
        self.code = condition.value
        self.condition = condition


@dataclass(frozen=True)
class MissingReportField:
    """A report field that must be filled (or hold an allowed code) before signing.

    `section` is None for the report's own fields (the impression).
    """

    section: str | None
    field: str
    label: str
    problem: IssueCode


class ReportIncomplete(PreconditionFailed):
    """The report cannot be signed yet; `missing` lists every field to fill or correct."""

    def __init__(self, missing: list[MissingReportField]) -> None:
        names = ", ".join(f"{m.section}.{m.field}" if m.section else m.field for m in missing)
        super().__init__(
            Condition.REPORT_INCOMPLETE,
            f"the report cannot be signed until these are complete: {names}",
        )
        self.missing = missing


class NotPermitted(DomainError):
    """The actor's role may not take this step (an authorization failure, not a data error)."""

    code = "FORBIDDEN"


@dataclass(frozen=True)
class FieldIssue:
    """One bad input field: where it is, what rule it breaks, and how to fix it."""

    field: str
    code: IssueCode
    message: str


class ValidationFailed(DomainError):
    """One or more inputs are invalid; `issues` has one entry per bad field."""

    code = "VALIDATION_FAILED"

    def __init__(self, issues: list[FieldIssue]) -> None:
        summary = "; ".join(f"{i.field}: {i.message}" for i in issues)
        super().__init__(f"invalid input: {summary}", field=issues[0].field if issues else None)
        self.issues = issues


class SlotTaken(DomainError):
    """The requested time on the resource is already booked."""

    code = "SLOT_TAKEN"

    def __init__(self, *, resource_code: str, starts_at: datetime) -> None:
        super().__init__(
            f"{resource_code} is already booked at {starts_at.isoformat()}", field="startsAt"
        )
        self.resource_code = resource_code
        self.starts_at = starts_at


class Conflict(DomainError):
    """Someone else changed the exam first; re-read it and try again."""

    code = "CONFLICT"

    def __init__(
        self,
        *,
        exam_id: int,
        accession_number: str | None = None,
        expected_version: int | None = None,
        actual_version: int | None = None,
    ) -> None:
        detail = (
            f" (expected version {expected_version}, found {actual_version})"
            if expected_version is not None
            else ""
        )
        subject = f"exam {accession_number}" if accession_number else "the exam"
        super().__init__(f"{subject} was changed concurrently{detail}; reload and retry")
        self.exam_id = exam_id
        self.expected_version = expected_version
        self.actual_version = actual_version


@dataclass(frozen=True)
class MetadataProblem:
    """One mismatch between a study's DICOM header and its order."""

    field: str
    code: HeaderProblemCode
    message: str


class MetadataInvalid(DomainError):
    """A correction still does not validate; each remaining problem is listed."""

    code = "METADATA_INVALID"

    def __init__(self, problems: list[MetadataProblem]) -> None:
        super().__init__(
            "metadata still invalid: " + "; ".join(p.message for p in problems),
            field=problems[0].field if problems else None,
        )
        self.problems = problems
