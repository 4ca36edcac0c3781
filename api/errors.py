"""Typed errors of mutation results, and the one mapping from domain errors to them.

Expected failures come back as members of the mutation's result union, each with a stable
`code`, a `message` and, where one input is at fault, the `field` path inside `input`.
Authorization failures are top-level GraphQL errors with `extensions.code = FORBIDDEN`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from enum import Enum
from typing import Any, TypeVar

import strawberry
from graphql import GraphQLError

from api.enums import ExamStatus
from domain import errors as d
from domain.audit import note_failure

T = TypeVar("T")


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
    step: str
    allowed_from: list[ExamStatus] = strawberry.field(
        description="Statuses from which this step is allowed.")


@strawberry.type(description="The step is allowed, but one of its conditions does not hold.")
class PreconditionFailed(Error):
    condition: str = strawberry.field(description="e.g. PREP_INCOMPLETE, METADATA_NOT_VALIDATED.")


@strawberry.type(description="One invalid input field.")
class FieldError:
    field: str
    code: str = strawberry.field(description="e.g. REQUIRED, TOO_LONG, INVALID_FORMAT.")
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
    code: str
    message: str


@strawberry.type(description="Corrected metadata still does not match the order.")
class MetadataInvalid(Error):
    problems: list[HeaderProblem]


def input_path(field: str | None) -> str | None:
    """`exam_id` -> `input.examId`; dotted paths are converted segment by segment."""
    if field is None:
        return None

    def camel(segment: str) -> str:
        head, *rest = segment.split("_")
        return head + "".join(part[:1].upper() + part[1:] for part in rest)

    return "input." + ".".join(camel(s) for s in field.split("."))


def to_error(exc: d.DomainError) -> Error:
    """The union member for a domain error."""
    field = input_path(exc.field)
    match exc:
        case d.NotFound():
            return NotFound(code=ErrorCode.NOT_FOUND, message=exc.message, field=field,
                            entity=exc.entity)
        case d.InvalidTransition():
            return InvalidTransition(
                code=ErrorCode.INVALID_TRANSITION, message=exc.message, field=None,
                status=ExamStatus(exc.status), step=exc.step,
                allowed_from=[ExamStatus(s) for s in exc.allowed])
        case d.PreconditionFailed():
            return PreconditionFailed(code=ErrorCode.PRECONDITION_FAILED, message=exc.message,
                                      field=field, condition=exc.code)
        case d.ValidationFailed():
            return ValidationFailed(
                code=ErrorCode.VALIDATION_FAILED, message=exc.message, field=field,
                errors=[FieldError(field=input_path(i.field) or "", code=i.code,
                                   message=i.message) for i in exc.issues])
        case d.SlotTaken():
            return SlotTaken(code=ErrorCode.SLOT_TAKEN, message=exc.message, field=field,
                             resource_code=exc.resource_code, starts_at=exc.starts_at)
        case d.Conflict():
            return Conflict(code=ErrorCode.CONFLICT, message=exc.message, field=None,
                            expected_version=exc.expected_version,
                            actual_version=exc.actual_version)
        case d.MetadataInvalid():
            return MetadataInvalid(
                code=ErrorCode.METADATA_INVALID, message=exc.message, field=field,
                problems=[HeaderProblem(field=input_path(p.field) or "", code=p.code,
                                        message=p.message) for p in exc.problems])
    raise TypeError(f"no GraphQL error for {type(exc).__name__}")  # a bug, not user input


def forbidden(exc: d.NotPermitted) -> GraphQLError:
    """The top-level error for an authorization failure."""
    return GraphQLError(exc.message, extensions={"code": "FORBIDDEN"})


async def attempt(run: Callable[[], Awaitable[T]]) -> T | Error:
    """Run a mutation's domain call; expected failures become union members."""
    try:
        return await run()
    except d.NotPermitted as exc:
        note_failure(exc.message, denied=True)
        raise forbidden(exc) from exc
    except d.DomainError as exc:
        note_failure(f"{exc.code}: {exc}")
        return to_error(exc)


ERROR_TYPES: tuple[Any, ...] = (NotFound, InvalidTransition, PreconditionFailed,
                                ValidationFailed, SlotTaken, Conflict, MetadataInvalid)
