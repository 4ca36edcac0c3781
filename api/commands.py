"""Running a lifecycle step from a resolver: decode the exam id, run, build the payload.

The command itself (role, visibility, transaction) is the application's
(`application.commands`); this adds what GraphQL needs: the global id, the typed error union.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import strawberry

from api.context import Info
from api.errors import Error, attempt
from api.exams.types import Exam
from api.relay import decode_id
from application.commands import ExamWork

R = TypeVar("R")
P = TypeVar("P")


async def exam_step(
    info: Info,
    exam_id: strawberry.ID,
    command: ExamWork[R],
    success: Callable[[R, Exam], P],
) -> P | Error:
    """Run `command` (named as the mutation being resolved) on one exam; payload or error."""

    async def run() -> P:
        pk = decode_id(exam_id, "Exam", field="exam_id")
        result, row = await info.context.commands.on_exam(
            info.field_name, pk, command, sent=str(exam_id)
        )
        return success(result, Exam.from_model(row))

    return await attempt(run, sent={"exam_id": exam_id})
