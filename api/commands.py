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
from domain.access import load_visible_exam
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
            found = load_visible_exam(uow.session, actor, pk)
            if found is None:
                # Not theirs: the same answer as for an exam that does not exist, naming the
                # id the caller sent (never the row behind it).
                raise NotFound("exam", str(exam_id), field="exam_id")
            exam, procedure, mrn = found
            uow.hold(exam, procedure)  # the command's (and outbox's) lookups find them
            uow.name_patient(exam.patient_id, mrn)
            result = command(uow, actor, pk)
            return result, exam

        result, row = await info.context.db.run(transaction)
        return success(result, Exam.from_model(row))

    return await attempt(run, sent={"exam_id": exam_id})
