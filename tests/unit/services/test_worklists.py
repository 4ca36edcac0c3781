"""Committing the balancer's plan and supervisor pins, on the in-memory unit of work."""

from __future__ import annotations

from datetime import timedelta

import pytest

from domain import events as ev
from domain.enums import ExamStatus, RadiologistStatus, ReadSource
from domain.errors import ValidationFailed
from domain.models import Radiologist, Read
from domain.services import worklists
from tests.unit.services.conftest import NOW, SUPERVISOR, Department

SUMMARY = worklists.PlanSummary(
    started_at=NOW, duration_ms=12.0, trigger="test", formulation="cpsat", objective={"tat": 1.0}
)


def test_a_plan_moves_waiting_studies_and_leaves_ones_that_changed_since_the_snapshot(
    department: Department,
) -> None:
    uow = department.uow
    other = Radiologist(code="RAD02", name="Dr Other", wrvu_per_hour=10.0)
    uow.seed(other)
    waiting = department.exam(ExamStatus.READY_FOR_READ)
    held = Read(
        exam_id=waiting.id or 0,
        radiologist_id=other.id or 0,
        source=ReadSource.BALANCER,
        assigned_at=NOW - timedelta(minutes=5),
        assigned_by="balancer",
        reason="earlier plan",
    )
    uow.seed(held)
    opened = department.exam(ExamStatus.IN_INTERPRETATION)  # no longer waiting

    outcome = worklists.apply_plan(
        uow=uow,
        planned=[
            worklists.PlannedRead(
                waiting.id or 0, department.reader.id or 0, 0, "balance", other.id
            ),
            worklists.PlannedRead(opened.id or 0, department.reader.id or 0, 1, "balance", None),
        ],
        unassignable_seen={},
        summary=SUMMARY,
    )

    assert (outcome.moved, outcome.stale) == (1, 1)
    assert held.end_reason == "REASSIGNED"
    assert uow.reads.current(waiting.id or 0).radiologist_id == department.reader.id  # type: ignore[union-attr]
    assert uow.reads.current(opened.id or 0) is None
    (moved,) = uow.events_of(ev.AssignmentChanged)
    assert moved.previous_radiologist_id == other.id  # type: ignore[attr-defined]


def test_a_pin_to_a_reader_without_the_credential_is_refused(department: Department) -> None:
    stranger = Radiologist(
        code="RAD03", name="Dr Neuro", wrvu_per_hour=10.0, status=RadiologistStatus.AVAILABLE
    )
    department.uow.seed(stranger)
    exam = department.exam(ExamStatus.READY_FOR_READ)

    with pytest.raises(ValidationFailed) as refused:
        worklists.pin_assignment(
            uow=department.uow,
            actor=SUPERVISOR,
            exam_id=exam.id or 0,
            radiologist_code="RAD03",
            reason="knows the patient",
        )

    assert refused.value.issues[0].code == "NOT_ELIGIBLE"
    assert department.uow.reads.current(exam.id or 0) is None
