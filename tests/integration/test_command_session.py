"""A command's session (domain/loaded_rows.py `CommandSession`) and the writes that lean on it:
rows handed to it and taken back, its kept connection and savepoints, a survey answered twice."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from domain.db import Database, UnitOfWork
from domain.enums import ExamStatus, Respondent
from domain.loaded_rows import CommandSession, as_loaded, columns_of
from domain.models import Exam, SatisfactionSurvey
from domain.services import results
from domain.tables import EXAMS
from tests.factories import REFERRER, count_rows, drive, order, reference

pytestmark = pytest.mark.usefixtures("backend")


async def test_a_row_handed_to_the_command_session_is_its_loaded_row_until_taken_back(
    db: Database,
) -> None:
    await reference(db)
    placed = await order(db)

    def hand_over(uow: UnitOfWork) -> tuple[bool, bool, bool, bool]:
        session = uow.session
        assert isinstance(session, CommandSession)
        values = (
            session.connection()
            .execute(sa.select(*columns_of(Exam)).where(EXAMS.c.id == placed.id))
            .one()
        )
        exam = as_loaded(session, Exam, values)
        persistent = sa.inspect(exam).persistent and exam in session
        same = session.get(Exam, placed.id) is exam  # no second statement, the same row
        session.expunge(exam)
        gone = exam not in session and sa.inspect(exam).detached
        with pytest.raises(sa.exc.InvalidRequestError):
            session.expunge(exam)  # not in this session any more
        return persistent, same, gone, sa.inspect(exam).modified

    assert await db.run(hand_over) == (True, True, True, False)


async def test_a_statement_sent_in_a_savepoint_is_undone_with_it(db: Database) -> None:
    await reference(db)
    placed = await order(db)

    def undone_note(uow: UnitOfWork) -> bool:
        session = uow.session
        outer = session.connection()
        nested = session.begin_nested()
        inner = session.connection()
        inner.execute(
            sa.update(EXAMS).where(EXAMS.c.id == placed.id).values(indication="in the savepoint")
        )
        nested.rollback()
        return outer is inner

    assert await db.run(undone_note)  # one connection, kept across the savepoint
    row = await db.read(lambda s: s.get(Exam, placed.id))
    assert row is not None and row.indication != "in the savepoint"


async def test_a_survey_answered_twice_keeps_the_first_and_the_command_goes_on(
    db: Database,
) -> None:
    await reference(db)
    exam = await drive(db, await order(db), ExamStatus.COMMUNICATED)
    pk = exam.id or 0
    await db.run(
        lambda uow: results.submit_survey(
            uow=uow, actor=REFERRER, exam_id=pk, respondent=Respondent.REFERRER, score=4
        )
    )

    def answer_again(uow: UnitOfWork) -> bool:
        # As if the first answer had come in after `survey_taken` looked: the constraint
        # decides, and the command's transaction stays usable for its typed answer.
        again = SatisfactionSurvey(
            exam_id=pk,
            respondent=Respondent.REFERRER,
            score=1,
            submitted_at=uow.now,
            submitted_by=REFERRER.id,
        )
        added = uow.reports.add_survey(again)
        other = SatisfactionSurvey(
            exam_id=pk,
            respondent=Respondent.PATIENT,
            score=5,
            submitted_at=uow.now,
            submitted_by="patient",
        )
        return added or not uow.reports.add_survey(other)

    assert not await db.run(answer_again)
    scores = await db.read(
        lambda s: sorted((r.respondent, r.score) for r in s.scalars(sa.select(SatisfactionSurvey)))
    )
    assert scores == [(Respondent.PATIENT, 5), (Respondent.REFERRER, 4)]
    assert await db.read(count_rows("satisfaction_surveys")) == 2
