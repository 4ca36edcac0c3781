"""Typed errors of mutation results, and the one mapping from domain errors to them.

Expected failures come back as members of the mutation's result union, each with a stable
`code`, a `message` and, where one input is at fault, the `field` path inside `input`.
Authorization failures are top-level GraphQL errors with `extensions.code = FORBIDDEN`
(docs/api.md, "Errors", is the convention in full).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from enum import Enum
from typing import Any, TypeVar, cast, get_args

import strawberry
from graphql import GraphQLError
from typing_extensions import TypeForm

from api.enums import ExamStatus, ExamStep
from domain import errors as d
from domain.audit import note_failure

# strawberry.enum marks the domain's class in place (see api.enums)
PreconditionCondition = d.Condition
strawberry.enum(PreconditionCondition, description="The lifecycle guard that did not hold.")
FieldErrorCode = d.IssueCode
strawberry.enum(FieldErrorCode, description="What is wrong with one input field.")
HeaderProblemCode = d.HeaderProblemCode
strawberry.enum(HeaderProblemCode, description="How a study's DICOM header differs from its order.")


@strawberry.enum(description="The kind of an expected failure; stable across releases.")
class ErrorCode(Enum):
    NOT_FOUND = "NOT_FOUND"
    INVALID_TRANSITION = "INVALID_TRANSITION"
    PRECONDITION_FAILED = "PRECONDITION_FAILED"
    VALIDATION_FAILED = "VALIDATION_FAILED"
    SLOT_TAKEN = "SLOT_TAKEN"
    CONFLICT = "CONFLICT"
    METADATA_INVALID = "METADATA_INVALID"


@strawberry.interface(description="An expected failure of a mutation; nothing was written.")
class Error:
    code: ErrorCode
    message: str
    field: str | None = strawberry.field(description="Path of the input field at fault.")


@strawberry.type(description="A referenced object does not exist.")
class NotFound(Error):
    entity: str


@strawberry.type(description="The exam's status does not allow this step.")
class InvalidTransition(Error):
    status: ExamStatus = strawberry.field(description="The exam's current status.")
    step: ExamStep = strawberry.field(description="The step that was refused.")
    allowed_from: list[ExamStatus] = strawberry.field(
        description="Statuses from which this step is allowed."
    )


@strawberry.type(description="The step is allowed, but one of its conditions does not hold.")
class PreconditionFailed(Error):
    condition: PreconditionCondition


@strawberry.type(description="A field of the report that keeps it from being signed.")
class MissingReportField:
    section: str | None = strawberry.field(
        description="The template section's key; null for the report's own `impression`."
    )
    field: str = strawberry.field(description="The field's key in the template.")
    label: str
    problem: FieldErrorCode = strawberry.field(
        description="REQUIRED (empty) or INVALID_VALUE (not one of the field's codes)."
    )


@strawberry.type(
    description="The report cannot be signed yet: `missing` lists every field to "
    "fill or correct (condition REPORT_INCOMPLETE). Signing answers this, whether "
    "the draft is partial or was never saved."
)
class ReportIncomplete(Error):
    condition: PreconditionCondition
    missing: list[MissingReportField]


@strawberry.type(description="One invalid input field.")
class FieldError:
    field: str
    code: FieldErrorCode
    message: str


@strawberry.type(description="One or more inputs are invalid; each is listed.")
class ValidationFailed(Error):
    errors: list[FieldError]


@strawberry.type(description="The time on the resource is already booked.")
class SlotTaken(Error):
    resource_code: str
    starts_at: datetime


@strawberry.type(description="Someone changed the exam first; reload it and retry.")
class Conflict(Error):
    expected_version: int | None
    actual_version: int | None


@strawberry.type(description="A header mismatch with the order.")
class HeaderProblem:
    field: str
    code: HeaderProblemCode
    message: str


@strawberry.type(description="Corrected metadata still does not match the order.")
class MetadataInvalid(Error):
    problems: list[HeaderProblem]


T = TypeVar("T")
E = TypeVar("E", bound=Error)


def input_path(field: str | None) -> str | None:
    """`exam_id` -> `input.examId`; dotted paths are converted segment by segment."""
    if field is None:
        return None

    def camel(segment: str) -> str:
        head, *rest = segment.split("_")
        return head + "".join(part[:1].upper() + part[1:] for part in rest)

    return "input." + ".".join(camel(s) for s in field.split("."))


def to_error(exc: d.DomainError, sent: Mapping[str, object] | None = None) -> Error:
    """The union member for a domain error; `sent` maps an input field (as the domain names
    it) to what the client sent there, so a message speaks of the client's own id."""
    field = input_path(exc.field)
    match exc:
        case d.NotFound():
            message = exc.message
            if exc.key is None and sent and exc.field is not None and exc.field in sent:
                message = f"{exc.entity} {sent[exc.field]} does not exist"
            return NotFound(
                code=ErrorCode.NOT_FOUND, message=message, field=field, entity=exc.entity
            )
        case d.InvalidTransition():
            return InvalidTransition(
                code=ErrorCode.INVALID_TRANSITION,
                message=exc.message,
                field=None,
                status=ExamStatus(exc.status),
                step=ExamStep(exc.step),
                allowed_from=[ExamStatus(s) for s in exc.allowed],
            )
        case d.PreconditionFailed() if exc.condition == d.Condition.REPORT_INCOMPLETE:
            missing = exc.missing if isinstance(exc, d.ReportIncomplete) else []
            return ReportIncomplete(
                code=ErrorCode.PRECONDITION_FAILED,
                message=exc.message,
                field=None,
                condition=exc.condition,
                missing=[
                    MissingReportField(
                        section=m.section, field=m.field, label=m.label, problem=m.problem
                    )
                    for m in missing
                ],
            )
        case d.PreconditionFailed():
            return PreconditionFailed(
                code=ErrorCode.PRECONDITION_FAILED,
                message=exc.message,
                field=field,
                condition=exc.condition,
            )
        case d.ValidationFailed():
            return ValidationFailed(
                code=ErrorCode.VALIDATION_FAILED,
                message=exc.message,
                field=field,
                errors=[
                    FieldError(
                        field=input_path(i.field) or "", code=d.IssueCode(i.code), message=i.message
                    )
                    for i in exc.issues
                ],
            )
        case d.SlotTaken():
            return SlotTaken(
                code=ErrorCode.SLOT_TAKEN,
                message=exc.message,
                field=field,
                resource_code=exc.resource_code,
                starts_at=exc.starts_at,
            )
        case d.Conflict():
            return Conflict(
                code=ErrorCode.CONFLICT,
                message=exc.message,
                field=None,
                expected_version=exc.expected_version,
                actual_version=exc.actual_version,
            )
        case d.MetadataInvalid():
            return MetadataInvalid(
                code=ErrorCode.METADATA_INVALID,
                message=exc.message,
                field=field,
                problems=[
                    HeaderProblem(
                        field=input_path(p.field) or "",
                        code=d.HeaderProblemCode(p.code),
                        message=p.message,
                    )
                    for p in exc.problems
                ],
            )
    raise TypeError(f"no GraphQL error for {type(exc).__name__}")  # a bug, not user input


def forbidden(message: str) -> GraphQLError:
    """The top-level error for an authorization failure (api.schema logs it as one line)."""
    return GraphQLError(message, extensions={"code": "FORBIDDEN"})


async def attempt(
    run: Callable[[], Awaitable[T]],
    *,
    errors: TypeForm[E],
    sent: Mapping[str, object] | None = None,
) -> T | E:
    """Run a mutation's domain call; expected failures become members of its result union.

    `errors`: the error types the mutation's union declares (`NotFound | Conflict`), so the
    result type-checks against the union. `sent`: what the client sent for the inputs a domain
    error may name (see `to_error`).
    """
    try:
        return await run()
    except d.NotPermitted as exc:
        note_failure(exc.message, denied=True)
        raise forbidden(exc.message) from exc
    except d.DomainError as exc:
        note_failure(f"{exc.code}: {exc}")
        return declared(to_error(exc, sent), errors)


def declared(error: Error, errors: TypeForm[E]) -> E:
    """`error` as one of `errors`; any other type would not resolve in the union (a bug)."""
    if not isinstance(error, get_args(errors) or (errors,)):
        raise TypeError(f"{type(error).__name__} is not among the declared errors {errors}")
    return cast(E, error)  # checked above; mypy does not narrow by a TypeForm


ERROR_TYPES: tuple[Any, ...] = (
    NotFound,
    InvalidTransition,
    PreconditionFailed,
    ReportIncomplete,
    ValidationFailed,
    SlotTaken,
    Conflict,
    MetadataInvalid,
)
