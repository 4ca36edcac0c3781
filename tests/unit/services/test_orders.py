"""Placing orders, on the in-memory unit of work."""

from __future__ import annotations

import pytest

from domain import events as ev
from domain.enums import ExamStatus, PatientClass, Priority
from domain.errors import NotPermitted
from domain.models import ExamPrepItem
from domain.services import orders
from tests.unit.services.conftest import REFERRER, SCHEDULER, Department


def place(department: Department, actor=SCHEDULER, **overrides: object) -> orders.PlacedOrder:
    values: dict[str, object] = {
        "order_source": "HIS",
        "placer_order_number": "ORD-1",
        "patient_mrn": "MRN000001",
        "referrer_code": "REF01",
        "procedure_code": "CTCHEST",
        "site_code": "MAIN",
        "priority": Priority.ROUTINE,
        "patient_class": PatientClass.OUTPATIENT,
        "indication": "  Cough  ",
        "icd10_code": "R05",
    } | overrides
    return orders.place_order(uow=department.uow, actor=actor, **values)  # type: ignore[arg-type]


def test_an_order_creates_an_ordered_exam_with_its_procedures_prep_checklist(
    department: Department,
) -> None:
    placed = place(department)

    assert placed.created
    exam = placed.exam
    assert exam.status == ExamStatus.ORDERED and exam.indication == "Cough"
    assert [i.code for i in department.uow.rows.all(ExamPrepItem)] == [
        "ALLERGY_CHECK",
        "EGFR_CHECK",
    ]
    (ordered,) = department.uow.events_of(ev.ExamOrdered)
    assert isinstance(ordered, ev.ExamOrdered) and ordered.exam_id == exam.id


def test_a_resent_order_returns_the_same_exam_without_a_second_one(
    department: Department,
) -> None:
    first = place(department)
    again = place(department)

    assert not again.created and again.exam is first.exam
    assert len(department.uow.events_of(ev.ExamOrdered)) == 1


def test_a_referrer_may_not_order_in_another_referrers_name(department: Department) -> None:
    with pytest.raises(NotPermitted):
        place(department, actor=REFERRER, referrer_code="REF99")
