"""50 conflicting mutations on one exam at once, over real HTTP: one wins, history shows one."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest
import sqlalchemy as sa
from sqlmodel import col

from api.relay import to_global_id
from domain.enums import ExamStatus
from domain.models import ExamStatusChange
from tests.conftest import Api, token_for
from tests.factories import count_rows, current, drive, order, reference

pytestmark = pytest.mark.usefixtures("backend")

CHECK_IN = """mutation($id: ID!, $version: Int) {
  checkIn(input: {examId: $id, expectedVersion: $version}) {
    __typename
    ... on Conflict { expectedVersion actualVersion }
    ... on InvalidTransition { status }
  }
}"""
HISTORY = """query($accession: String!) {
  exam(accessionNumber: $accession) { status version history { fromStatus toStatus } }
}"""


async def storm(api: Api, exam_id: int, version: int | None, callers: int = 50) -> Counter[str]:
    """`callers` check-ins of one exam sent at once; how many answers of each kind came back."""
    headers = {"Authorization": f"Bearer {token_for('frontdesk', 'scheduler')}"}
    body = {
        "query": CHECK_IN,
        "variables": {"id": to_global_id("Exam", exam_id), "version": version},
    }
    responses = await asyncio.gather(
        *[api.client.post("/graphql", json=body, headers=headers) for _ in range(callers)]
    )
    assert {r.status_code for r in responses} == {200}
    answers = [r.json() for r in responses]
    assert all("errors" not in a for a in answers), answers
    return Counter(a["data"]["checkIn"]["__typename"] for a in answers)


async def scheduled_exam(api: Api) -> tuple[int, str, int]:
    await reference(api.db)
    exam = await drive(api.db, await order(api.db), ExamStatus.SCHEDULED)
    assert exam.id is not None
    return exam.id, exam.accession_number, exam.version


async def test_fifty_check_ins_with_the_version_seen_one_wins_the_rest_conflict(api: Api) -> None:
    exam_id, accession, version = await scheduled_exam(api)
    history_before = await api.db.read(count_rows("exam_status_history"))
    outcome = await storm(api, exam_id, version)
    assert outcome == {"PatientCheckedIn": 1, "Conflict": 49}
    exam = (await api.data(HISTORY, {"accession": accession}, actor=("admin.kim", "admin")))["exam"]
    checked_in = [h for h in exam["history"] if h["toStatus"] == "CHECKED_IN"]  # type: ignore[index]
    assert exam["status"] == "CHECKED_IN" and len(checked_in) == 1  # type: ignore[index]
    assert exam["version"] == version + 1  # type: ignore[index]
    assert await api.db.read(count_rows("exam_status_history")) == history_before + 1


async def test_fifty_blind_check_ins_one_wins_and_each_loser_gets_a_typed_answer(api: Api) -> None:
    """Without expectedVersion a loser that raced is a Conflict; one that arrived after the
    winner committed saw a checked-in exam, so InvalidTransition is its honest answer."""
    exam_id, _, version = await scheduled_exam(api)
    outcome = await storm(api, exam_id, None)
    assert outcome["PatientCheckedIn"] == 1
    assert sum(outcome.values()) == 50
    assert set(outcome) <= {"PatientCheckedIn", "Conflict", "InvalidTransition"}
    exam = await current(api.db, exam_id)
    assert exam.status == ExamStatus.CHECKED_IN and exam.version == version + 1
    transitions = await api.db.read(
        lambda s: s.scalar(
            sa.select(sa.func.count())
            .select_from(ExamStatusChange)
            .where(
                col(ExamStatusChange.exam_id) == exam_id,
                col(ExamStatusChange.to_status) == ExamStatus.CHECKED_IN,
            )
        )
    )
    assert transitions == 1
