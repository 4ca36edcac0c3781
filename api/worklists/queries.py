"""Worklist and balancer queries."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
import strawberry
from sqlalchemy.orm import Session
from sqlmodel import col

from api.context import Info
from api.exams.types import Exam
from api.worklists.types import BalancerRun, BalancerStatus, WorklistItem
from application.planning.rule_effects import effects_for
from domain import models as m
from domain.enums import ExamStatus, Role
from domain.errors import NotFound


def _worklist(session: Session, code: str) -> list[tuple[m.Read, m.Exam]]:
    radiologist = session.scalars(
        sa.select(m.Radiologist).where(col(m.Radiologist.code) == code)
    ).first()
    if radiologist is None:
        raise NotFound("radiologist", code, field="radiologistCode")
    rows = session.execute(
        sa.select(m.Read, m.Exam)
        .join(m.Exam, col(m.Exam.id) == col(m.Read.exam_id))
        .where(
            col(m.Read.radiologist_id) == radiologist.id,
            col(m.Read.ended_at).is_(None),
            col(m.Exam.status).in_([ExamStatus.READY_FOR_READ, ExamStatus.IN_INTERPRETATION]),
        )
    ).all()
    # Opened studies first (being read), then the plan's order; unplanned pins at the end.
    return sorted(
        ((read, exam) for read, exam in rows),
        key=lambda pair: (
            pair[0].opened_at is None,
            pair[0].position is None,
            pair[0].position or 0,
            pair[0].assigned_at,
        ),
    )


@strawberry.type
class WorklistQueries:
    @strawberry.field(
        description="A radiologist's worklist, the next study to read first, "
        "with each study's priority and due time after the rules."
    )
    async def worklist(self, info: Info, radiologist_code: str) -> list[WorklistItem]:
        now = info.context.db.clock()

        actor = info.context.actor
        if actor.role == Role.RADIOLOGIST and actor.id != radiologist_code:
            # Another reader's worklist: as far as this caller can tell, there is none.
            raise NotFound("radiologist", radiologist_code, field="radiologistCode")

        def query(session: Session) -> list[WorklistItem]:
            rows = _worklist(session, radiologist_code)
            effects = effects_for(session, now, [exam.id or 0 for _, exam in rows])
            items = []
            for read, exam in rows:
                effect = effects.get(exam.id or 0)
                due_at = exam.due_at
                if effect is not None and effect.turnaround_minutes is not None and exam.ready_at:
                    due_at = exam.ready_at + timedelta(minutes=effect.turnaround_minutes)
                items.append(
                    WorklistItem(
                        position=read.position,
                        priority=effect.priority if effect else exam.priority,
                        due_at=due_at,
                        reason=read.reason,
                        pinned=read.pinned,
                        opened=read.opened_at is not None,
                        assigned_at=read.assigned_at,
                        exam=Exam.from_model(exam),
                    )
                )
            return items

        return await info.context.db.read(query, bounded=True)

    @strawberry.field(
        description="The balancer's last runs: when, how long, objective terms, "
        "unassignable studies."
    )
    async def balancer_status(self, info: Info) -> BalancerStatus:
        rows = await info.context.db.read(
            lambda s: list(
                s.scalars(sa.select(m.BalancerRun).order_by(col(m.BalancerRun.id).desc()).limit(10))
            ),
            bounded=True,
        )
        runs = [BalancerRun.from_model(r) for r in rows]
        return BalancerStatus(last_run=runs[0] if runs else None, recent_runs=runs)
