"""Order changes and patient merges, on the in-memory unit of work."""

from __future__ import annotations

from datetime import date

import pytest

from domain import events as ev
from domain.enums import ExamStatus, PatientClass, Priority, Role
from domain.errors import IssueCode, NotFound, NotPermitted, ValidationFailed
from domain.lifecycle import Actor
from domain.models import Exam, Patient
from domain.services import order_changes
from domain.services.order_changes import OrderChange
from domain.types import pk
from tests.unit.services.conftest import SCHEDULER, TECH, Department

INTEGRATION = Actor("hl7", Role.INTEGRATION)


def test_only_the_fields_that_differ_change_and_one_event_says_which(
    department: Department,
) -> None:
    exam = department.exam(ExamStatus.READY_FOR_READ)
    changes = order_changes.change_order(
        uow=department.uow,
        actor=SCHEDULER,
        exam_id=pk(exam),
        change=OrderChange(
            priority=Priority.STAT,
            patient_class=PatientClass.OUTPATIENT,  # as it is
            indication=" Haemoptysis ",
        ),
    )
    assert changes == ["priority: ROUTINE -> STAT", "indication: Cough -> Haemoptysis"]
    assert (exam.priority, exam.indication) == (Priority.STAT, "Haemoptysis")
    (event,) = department.uow.events
    assert isinstance(event, ev.OrderChanged) and event.changes == tuple(changes)
    assert event.status == ExamStatus.READY_FOR_READ


def test_nothing_differing_is_no_change_and_no_event(department: Department) -> None:
    exam = department.exam(ExamStatus.ORDERED)
    same = OrderChange(priority=Priority.ROUTINE, procedure_code="CTCHEST", referrer_code="REF01")
    assert (
        order_changes.change_order(
            uow=department.uow, actor=SCHEDULER, exam_id=pk(exam), change=same
        )
        == []
    )
    assert department.uow.events == []


@pytest.mark.parametrize(
    ("status", "change", "refused"),
    [
        (ExamStatus.SCHEDULED, OrderChange(procedure_code="XRCHEST"), "procedure_code"),
        (ExamStatus.IN_INTERPRETATION, OrderChange(priority=Priority.STAT), "priority"),
        (ExamStatus.FINAL, OrderChange(icd10_code="R06.0"), "icd10_code"),
        (ExamStatus.CANCELLED, OrderChange(referrer_code="REF02"), "referrer_code"),
    ],
)
def test_a_field_that_may_no_longer_change_is_refused_and_nothing_changes(
    department: Department, status: ExamStatus, change: OrderChange, refused: str
) -> None:
    exam = department.exam(status)
    before = exam.model_dump()
    with pytest.raises(ValidationFailed) as failed:
        order_changes.change_order(
            uow=department.uow, actor=SCHEDULER, exam_id=pk(exam), change=change
        )
    (issue,) = failed.value.issues
    assert (issue.field, issue.code) == (refused, IssueCode.NOT_EDITABLE)
    assert status.value in issue.message
    assert exam.model_dump() == before and department.uow.events == []


def test_a_role_that_does_not_order_on_anyones_behalf_may_not_change_orders(
    department: Department,
) -> None:
    exam = department.exam(ExamStatus.ORDERED)
    with pytest.raises(NotPermitted):
        order_changes.change_order(
            uow=department.uow,
            actor=TECH,
            exam_id=pk(exam),
            change=OrderChange(priority=Priority.STAT),
        )


def prior_patient(department: Department) -> Patient:
    prior = Patient(
        mrn="TEMP-1", given_name="Ada", family_name="Byron", birth_date=date(1980, 1, 1), sex="F"
    )
    department.uow.seed(prior)
    return prior


def test_a_merge_moves_every_exam_and_retires_the_prior_record(department: Department) -> None:
    prior = prior_patient(department)
    moved = [department.exam(ExamStatus.ORDERED), department.exam(ExamStatus.FINAL)]
    for exam in moved:
        exam.patient_id = pk(prior)
    kept = department.exam(ExamStatus.SCHEDULED)
    merged = order_changes.merge_patients(
        uow=department.uow, actor=INTEGRATION, surviving_mrn="MRN000001", prior_mrn="TEMP-1"
    )
    assert merged.exam_ids == tuple(pk(e) for e in moved)
    assert {e.patient_id for e in department.uow.rows.all(Exam)} == {pk(department.patient)}
    assert kept.patient_id == pk(department.patient)
    assert [p.mrn for p in department.uow.rows.all(Patient)] == ["MRN000001"]
    (event,) = department.uow.events
    assert isinstance(event, ev.PatientsMerged)
    assert (event.surviving_mrn, event.prior_mrn, event.exam_ids) == (
        "MRN000001",
        "TEMP-1",
        merged.exam_ids,
    )


def test_a_merge_is_refused_for_unknown_or_identical_patients_and_other_roles(
    department: Department,
) -> None:
    prior_patient(department)
    with pytest.raises(NotFound) as unknown:
        order_changes.merge_patients(
            uow=department.uow, actor=INTEGRATION, surviving_mrn="MRN000001", prior_mrn="NOBODY"
        )
    assert unknown.value.field == "prior_mrn"
    with pytest.raises(ValidationFailed):
        order_changes.merge_patients(
            uow=department.uow, actor=INTEGRATION, surviving_mrn="TEMP-1", prior_mrn="TEMP-1"
        )
    with pytest.raises(NotPermitted):
        order_changes.merge_patients(
            uow=department.uow, actor=SCHEDULER, surviving_mrn="MRN000001", prior_mrn="TEMP-1"
        )
    assert len(department.uow.rows.all(Patient)) == 2 and department.uow.events == []
