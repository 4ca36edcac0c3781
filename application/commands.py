"""Application commands: what every transport runs, with authorization and visibility inside.

A transport (GraphQL today; an HL7 listener, a DICOM SCP, a scheduler next) decodes its input,
then runs a domain service through `Commands`: the actor's role is checked against the command's
row of `application.authorization.COMMAND_ROLES`, a command on one exam first finds the exam
*as the actor may see it* (an exam outside their scope is `NotFound`, the same answer as one
that does not exist), and the work runs in one transaction of the unit of work. The transport
then builds its own answer from what the command returned.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from application.authorization import authorize
from domain import models as m
from domain.access import load_visible_exam
from domain.db import Database, UnitOfWork
from domain.errors import NotFound
from domain.lifecycle import Actor

R = TypeVar("R")

ExamWork = Callable[[UnitOfWork, Actor, int], R]


@dataclass(frozen=True, slots=True)
class Commands:
    """The commands one actor runs against one database."""

    db: Database
    actor: Actor

    async def run(self, command: str, work: Callable[[UnitOfWork], R]) -> R:
        """Run `work` as `command` in one transaction, if the actor's role may."""
        authorize(self.actor, command)
        return await self.db.run(work)

    async def on_exam(
        self, command: str, exam_id: int, work: ExamWork[R], *, sent: str | None = None
    ) -> tuple[R, m.Exam]:
        """Run `work` on one exam the actor may see; return its result and the exam row.

        `sent` is how the caller named the exam (a global id, an accession number): a
        `NotFound` repeats it, never the row id behind it.
        """
        authorize(self.actor, command)
        return await self.db.run(exam_transaction(self.actor, exam_id, work, sent=sent))


def exam_transaction(
    actor: Actor, exam_id: int, work: ExamWork[R], *, sent: str | None = None
) -> Callable[[UnitOfWork], tuple[R, m.Exam]]:
    """The transaction of a command on one exam: find it as the actor may see it, then work."""

    def transaction(uow: UnitOfWork) -> tuple[R, m.Exam]:
        found = load_visible_exam(uow.session, actor, exam_id)
        if found is None:
            raise NotFound("exam", sent, field="exam_id")
        exam, modality, mrn = found
        uow.hold(exam)  # the command's (and the outbox's) lookups find it
        uow.name_modality(exam.procedure_id, modality)
        uow.name_patient(exam.patient_id, mrn)
        return work(uow, actor, exam_id), exam

    return transaction
