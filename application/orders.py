"""Finding an order the way its order source names it: the source and its placer number."""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import col

from domain.db import UnitOfWork
from domain.errors import NotFound
from domain.lifecycle import Actor
from domain.models import Exam
from domain.services.orders import placer_scope


def exam_for_placer(uow: UnitOfWork, actor: Actor, order_source: str, placer: str) -> int:
    """The exam placed in the actor's scope under this source and placer number (`NotFound`)."""
    found = uow.session.execute(
        sa.select(col(Exam.id), col(Exam.patient_id)).where(
            col(Exam.order_source) == order_source,
            col(Exam.placer_order_number) == placer,
            col(Exam.placer_scope) == placer_scope(actor),
        )
    ).first()
    if found is None:
        raise NotFound("order", f"{placer} from {order_source}", field="placer_order_number")
    exam_id, patient_id = found
    assert exam_id is not None
    uow.name_exam(exam_id, patient_id)  # the command's audit record lists the exam it answers
    return exam_id
