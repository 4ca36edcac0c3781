"""A signed read teaches its reader's pace: the row is kept in the signing's transaction and
the planner's snapshot carries the learned pace per procedure group."""

from __future__ import annotations

import math

import pytest
import sqlalchemy as sa

from application.planning.runner import read_state
from balancer.paces import PaceHistory, Spread, pace_factor
from domain.db import Database
from domain.enums import ExamStatus
from domain.models import ReadingPace
from domain.services import reading
from tests.factories import RADIOLOGIST, REPORT, drive, order, reference

pytestmark = pytest.mark.usefixtures("backend")

USABD_MINUTES = 8.0  # the catalogue's read time of an abdominal ultrasound


async def read_for(db: Database, minutes: float) -> int:
    """An USABD exam opened by RAD03 and signed final `minutes` later."""
    exam = await drive(db, await order(db), ExamStatus.IN_INTERPRETATION)
    pk = exam.id or 0
    db.clock.advance(seconds=minutes * 60)  # type: ignore[attr-defined]
    await db.run(
        lambda uow: reading.save_report_draft(
            uow=uow, actor=RADIOLOGIST, exam_id=pk, sections=REPORT, impression="Normal study."
        )
    )
    await db.run(lambda uow: reading.sign_final(uow=uow, actor=RADIOLOGIST, exam_id=pk))
    return pk


async def test_signed_reads_add_to_the_readers_pace_and_the_snapshot_carries_it(
    db: Database,
) -> None:
    await reference(db)  # RAD03 (id 3) reads and signs
    for minutes in (4.0, 6.0):
        await read_for(db, minutes)
    rows = await db.read(lambda s: list(s.scalars(sa.select(ReadingPace))))
    assert [(r.radiologist_id, r.procedure_group, r.reads) for r in rows] == [(3, "US", 2)]
    ys = [math.log(4.0 / USABD_MINUTES), math.log(6.0 / USABD_MINUTES)]
    assert rows[0].log_sum == pytest.approx(sum(ys))
    assert rows[0].log_square_sum == pytest.approx(sum(y * y for y in ys))

    waiting = await drive(db, await order(db), ExamStatus.READY_FOR_READ)
    now = db.clock()
    state = await db.read(lambda s: read_state(s, now))
    readers = {r.id: r for r in state.snapshot.radiologists}
    inv_speed = 8.0 / readers[3].wrvu_per_hour  # the prior: the catalogue at their overall pace
    expected = pace_factor(PaceHistory(2, sum(ys), sum(y * y for y in ys)), inv_speed, Spread())
    assert readers[3].paces == {"US": pytest.approx(expected)}
    assert expected < 1.0  # faster than the catalogue, shrunk toward it: 2 reads only
    assert readers[1].paces == {}
    study = next(s for s in state.snapshot.studies if s.id == waiting.id)
    assert study.procedure_group == "US"


async def test_a_read_signed_moments_after_opening_teaches_nothing(db: Database) -> None:
    await reference(db)
    await read_for(db, 0.1)  # opened by mistake and signed at once: not a read of the study
    rows = await db.read(lambda s: list(s.scalars(sa.select(ReadingPace))))
    assert rows == []
