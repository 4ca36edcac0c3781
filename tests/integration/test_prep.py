"""The prep checklist in the database: items ticked before or after arrival, once each, and
the last one on a checked-in exam makes it PREPARED."""

from __future__ import annotations

from typing import Any

import pytest

from domain.db import Database
from domain.enums import ExamStatus
from domain.errors import NotFound, ValidationFailed
from domain.events import DomainEvent, ExamStatusChanged, PrepItemCompleted
from domain.services import acquisition
from tests.factories import TECH, current, drive, order, reference

pytestmark = pytest.mark.usefixtures("backend")


def tick(exam_id: int, code: str) -> Any:
    return lambda uow: acquisition.complete_prep_item(
        uow=uow, actor=TECH, exam_id=exam_id, item_code=code
    )


async def test_the_last_item_ticked_after_arrival_prepares_the_exam(db: Database) -> None:
    await reference(db)
    events: list[DomainEvent] = []
    db.on_commit(events.extend)
    exam = await order(db, procedure="CTCHEST", site="MAIN")
    assert exam.id is not None
    exam_id = exam.id

    await db.run(tick(exam_id, "ALLERGY_CHECK"))  # before arrival: the exam stays ORDERED
    again = await db.run(tick(exam_id, "ALLERGY_CHECK"))  # ticked once only
    assert again.status == ExamStatus.ORDERED
    with pytest.raises(NotFound) as missing:
        await db.run(tick(exam_id, "NOT_ON_THE_LIST"))
    assert missing.value.field == "item_code"
    ticked = [e.item_code for e in events if isinstance(e, PrepItemCompleted)]
    assert ticked == ["ALLERGY_CHECK"]

    await drive(db, await current(db, exam_id), ExamStatus.CHECKED_IN, procedure="CTCHEST")
    assert (await db.run(tick(exam_id, "EGFR_CHECK"))).status == ExamStatus.CHECKED_IN
    assert (await db.run(tick(exam_id, "PREGNANCY_CHECK"))).status == ExamStatus.PREPARED
    prepared = [e for e in events if isinstance(e, ExamStatusChanged) and e.to_status == "PREPARED"]
    assert len(prepared) == 1
    with pytest.raises(ValidationFailed) as closed:
        await db.run(tick(exam_id, "EGFR_CHECK"))
    assert closed.value.issues[0].code == "PREP_CLOSED"
