"""The application's commands check role and visibility themselves, with no transport around.

What an HL7 listener or a DICOM SCP will do: call `Commands` directly. These tests use no
GraphQL, so a check that lived only in the API would let them through.
"""

from __future__ import annotations

import pytest

from application.authorization import COMMAND_ROLES
from application.commands import Commands
from domain.db import Database
from domain.enums import ExamStatus, Role
from domain.errors import NotFound, NotPermitted
from domain.lifecycle import Actor
from domain.services import reading, scheduling
from tests.factories import REFERRER, TECH, current, order, reference

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


def cancel(reason: str = "patient request"):  # type: ignore[no-untyped-def]
    return lambda uow, actor, pk: scheduling.cancel_exam(
        uow=uow, actor=actor, exam_id=pk, reason=reason
    )


async def test_a_role_outside_the_command_matrix_is_refused_before_anything_runs(
    db: Database,
) -> None:
    await reference(db)
    exam = await order(db)
    assert exam.id is not None
    assert Role.TECHNOLOGIST not in COMMAND_ROLES["openRead"]
    ran = []

    def work(uow, actor, pk):  # type: ignore[no-untyped-def]
        ran.append(pk)
        return reading.open_read(uow=uow, actor=actor, exam_id=pk)

    with pytest.raises(NotPermitted, match="role technologist may not use openRead"):
        await Commands(db, TECH).on_exam("openRead", exam.id, work)
    assert ran == []
    assert (await current(db, exam.id)).status == ExamStatus.ORDERED


async def test_an_exam_outside_the_actors_scope_is_not_found_under_the_name_they_sent(
    db: Database,
) -> None:
    await reference(db)
    exam = await order(db)  # ordered by REF01
    assert exam.id is not None
    other = Actor("REF02", Role.REFERRER)
    with pytest.raises(NotFound) as raised:
        await Commands(db, other).on_exam("cancelExam", exam.id, cancel(), sent="ACC-THEIRS")
    assert raised.value.message == "exam ACC-THEIRS does not exist"
    assert (await current(db, exam.id)).status == ExamStatus.ORDERED


async def test_the_owner_runs_the_command_and_gets_the_exam_row_back(db: Database) -> None:
    await reference(db)
    exam = await order(db)
    assert exam.id is not None
    cancelled, row = await Commands(db, REFERRER).on_exam("cancelExam", exam.id, cancel())
    assert cancelled.status == ExamStatus.CANCELLED
    assert row.id == exam.id
    assert (await current(db, exam.id)).status == ExamStatus.CANCELLED


async def test_a_command_without_an_exam_is_authorized_too(db: Database) -> None:
    await reference(db)
    with pytest.raises(NotPermitted, match="may not use placeOrder"):
        await Commands(db, Actor("RAD03", Role.RADIOLOGIST)).run("placeOrder", lambda uow: None)
    with pytest.raises(KeyError):  # an unnamed command is a programming error, never a pass
        await Commands(db, REFERRER).run("noSuchCommand", lambda uow: None)
