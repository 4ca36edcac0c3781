"""Batch loads of the worklists feature: each radiologist's open shift and current load."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlmodel import col

from domain import models as m
from domain.db import Database
from domain.enums import ExamStatus

Load = tuple[int, float, float]  # studies, wRVU, expected read minutes


async def current_load(db: Database, radiologist_ids: list[int]) -> Sequence[Load]:
    """Unread and opened studies on each radiologist's worklist, with their work."""

    def query(session: Session) -> dict[int, Load]:
        rows = session.execute(
            sa.select(
                col(m.Read.radiologist_id),
                sa.func.count(),
                sa.func.sum(col(m.Procedure.wrvu)),
                sa.func.sum(col(m.Procedure.read_minutes)),
            )
            .join(m.Exam, col(m.Exam.id) == col(m.Read.exam_id))
            .join(m.Procedure, col(m.Procedure.id) == col(m.Exam.procedure_id))
            .where(
                col(m.Read.ended_at).is_(None),
                col(m.Read.radiologist_id).in_(radiologist_ids),
                col(m.Exam.status).in_([ExamStatus.READY_FOR_READ, ExamStatus.IN_INTERPRETATION]),
            )
            .group_by(col(m.Read.radiologist_id))
        ).all()
        return {rid: (int(n), float(w or 0), float(t or 0)) for rid, n, w, t in rows}

    found = await db.read(query, bounded=True)
    return [found.get(rid, (0, 0.0, 0.0)) for rid in radiologist_ids]


async def open_shifts(db: Database, radiologist_ids: list[int]) -> Sequence[m.Shift | None]:
    """Each radiologist's shift in progress, if any."""
    now = db.clock()

    def query(session: Session) -> dict[int, m.Shift]:
        shifts: dict[int, m.Shift] = {}
        for shift in session.scalars(
            sa.select(m.Shift).where(
                col(m.Shift.radiologist_id).in_(radiologist_ids),
                col(m.Shift.ended_at).is_(None),
                col(m.Shift.starts_at) <= now,
            )
        ):
            shifts[shift.radiologist_id] = shift
        return shifts

    found = await db.read(query, bounded=True)
    return [found.get(rid) for rid in radiologist_ids]
