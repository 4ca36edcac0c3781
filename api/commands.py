"""Running a lifecycle step from a resolver: decode the exam id, run, build the payload.

The command itself (role, visibility, transaction) is the application's
(`application.commands`); this adds what GraphQL needs: the global id, the typed error union.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import strawberry
from typing_extensions import TypeForm

from api.context import Info
from api.errors import Error, attempt
from api.exams.types import Exam
from api.relay import decode_id
from application.commands import ExamWork

R = TypeVar("R")
P = TypeVar("P")
E = TypeVar("E", bound=Error)


async def exam_step(
    info: Info,
    exam_id: strawberry.ID,
    command: ExamWork[R],
    success: Callable[[R, Exam], P],
    *,
    errors: TypeForm[E],
) -> P | E:
    """Run `command` (named as the mutation being resolved) on one exam: its payload, or one of
    `errors`, the error types of the mutation's result union."""

    async def run() -> P:
        pk = decode_id(exam_id, "Exam", field="exam_id")
        result, row = await info.context.commands.on_exam(
            info.field_name, pk, command, sent=str(exam_id)
        )
        return success(result, Exam.from_model(row))

    return await attempt(run, errors=errors, sent={"exam_id": exam_id})
