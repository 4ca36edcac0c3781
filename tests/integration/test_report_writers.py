"""Who may write and sign a study's report, in the database: its current reader only."""

from __future__ import annotations

from typing import Any

import pytest

from domain.db import Database
from domain.enums import ExamStatus, ReportStatus, Role
from domain.errors import NotPermitted
from domain.lifecycle import Actor
from domain.services import reading
from tests.factories import RADIOLOGIST, REPORT, TECH, drive, order, reference

pytestmark = pytest.mark.usefixtures("backend")

STRANGERS = {
    "another radiologist": (Actor("RAD07", Role.RADIOLOGIST), "only the radiologist reading"),
    "an unknown radiologist": (Actor("RAD99", Role.RADIOLOGIST), "RAD99 is not a known"),
    "a technologist": (TECH, "only a radiologist may do this"),
}


def draft(actor: Actor, exam_id: int, findings: str) -> Any:
    return lambda uow: reading.save_report_draft(
        uow=uow,
        actor=actor,
        exam_id=exam_id,
        sections={"findings": {"findings": findings}},
        impression="Normal study.",
    )


@pytest.mark.parametrize("stranger", STRANGERS)
async def test_only_the_reader_drafts_and_signs_and_a_second_draft_merges_into_the_first(
    db: Database, stranger: str
) -> None:
    await reference(db)
    exam = await drive(db, await order(db), ExamStatus.IN_INTERPRETATION)
    assert exam.id is not None
    actor, why = STRANGERS[stranger]
    with pytest.raises(NotPermitted, match=why):
        await db.run(draft(actor, exam.id, "Mine."))  # before any draft exists

    first = await db.run(
        lambda uow: reading.save_report_draft(
            uow=uow, actor=RADIOLOGIST, exam_id=exam.id, sections=REPORT, impression="Normal."
        )
    )
    second = await db.run(draft(RADIOLOGIST, exam.id, "Clear lungs."))
    assert second.id == first.id
    assert second.content == {**REPORT, "findings": {"findings": "Clear lungs."}}

    with pytest.raises(NotPermitted, match=why):
        await db.run(draft(actor, exam.id, "Mine."))  # the reader's draft stays theirs
    with pytest.raises(NotPermitted, match=why):
        await db.run(lambda uow: reading.sign_preliminary(uow=uow, actor=actor, exam_id=exam.id))
    signed = await db.run(
        lambda uow: reading.sign_preliminary(uow=uow, actor=RADIOLOGIST, exam_id=exam.id)
    )
    assert (signed.id, signed.status) == (first.id, ReportStatus.PRELIMINARY)
    assert signed.content == second.content
