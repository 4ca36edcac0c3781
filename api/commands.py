"""Running a lifecycle step from a resolver: decode the exam id, run, build the payload."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import strawberry

from api.context import Info
from api.errors import Error, attempt
from api.exams.types import Exam
from api.relay import decode_id
from domain import models as m
from domain.access import visible_exam_ids
from domain.db import UnitOfWork
from domain.errors import NotFound
from domain.lifecycle import Actor

R = TypeVar("R")
P = TypeVar("P")


async def exam_step(
    info: Info,
    exam_id: strawberry.ID,
    command: Callable[[UnitOfWork, Actor, int], R],
    success: Callable[[R, Exam], P],
) -> P | Error:
    """Run `command` on one exam in one transaction and return its payload or typed error."""

    async def run() -> P:
        pk = decode_id(exam_id, "Exam", field="exam_id")
        actor = info.context.actor

        def transaction(uow: UnitOfWork) -> tuple[R, m.Exam]:
            if not visible_exam_ids(uow.session, actor, [pk]):
                # Not theirs: the same answer as for an exam that does not exist.
                raise NotFound("exam", pk, field="exam_id")
            result = command(uow, actor, pk)
            exam = uow.session.get(m.Exam, pk)
            assert exam is not None
            return result, exam

        result, row = await info.context.db.run(transaction)
        return success(result, Exam.from_model(row))

    return await attempt(run)
