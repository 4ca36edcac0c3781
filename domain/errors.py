"""Expected failures of domain commands, as exceptions that carry data.

The API maps each to a typed member of the mutation's result union; nothing about GraphQL lives
here. Every error has a stable `code`, a human `message` and, where it concerns one input, a
`field` path.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


class DomainError(Exception):
    """Base of all expected failures; the transaction is rolled back and nothing is written."""

    code: str = "DOMAIN_ERROR"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class NotFound(DomainError):
    """A referenced object does not exist (or is not visible)."""

    code = "NOT_FOUND"

    def __init__(self, entity: str, key: object, *, field: str | None = None) -> None:
        super().__init__(f"{entity} {key!s} does not exist", field=field)
        self.entity = entity
        self.key = str(key)


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

    def __init__(self, code: str, message: str, *, field: str | None = None) -> None:
        super().__init__(message, field=field)
        self.code = code


class NotPermitted(DomainError):
    """The actor's role may not take this step (an authorization failure, not a data error)."""

    code = "FORBIDDEN"


@dataclass(frozen=True)
class FieldIssue:
    """One bad input field: where it is, what rule it breaks, and how to fix it."""

    field: str
    code: str
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

    def __init__(self, *, exam_id: int, expected_version: int | None = None,
                 actual_version: int | None = None) -> None:
        detail = (
            f" (expected version {expected_version}, found {actual_version})"
            if expected_version is not None else ""
        )
        super().__init__(f"exam {exam_id} was changed concurrently{detail}; reload and retry")
        self.exam_id = exam_id
        self.expected_version = expected_version
        self.actual_version = actual_version


@dataclass(frozen=True)
class MetadataProblem:
    """One mismatch between a study's DICOM header and its order."""

    field: str
    code: str
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
