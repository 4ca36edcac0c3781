"""Opening a study and reporting it, on the in-memory unit of work."""

from __future__ import annotations

from datetime import timedelta

import pytest

from domain import events as ev
from domain.enums import (
    ExamStatus,
    NotificationChannel,
    NotificationTemplate,
    ReadSource,
    ReportStatus,
)
from domain.errors import ValidationFailed
from domain.models import Notification, Radiologist, Read
from domain.services import reading, results
from tests.unit.services.conftest import NOW, READER, Department


def assign(department: Department, exam_id: int, radiologist_id: int) -> Read:
    read = Read(
        exam_id=exam_id,
        radiologist_id=radiologist_id,
        source=ReadSource.BALANCER,
        assigned_at=NOW - timedelta(minutes=10),
        assigned_by="balancer",
        reason="plan",
    )
    department.uow.seed(read)
    return read


def test_a_reader_may_not_open_a_study_on_someone_elses_worklist(
    department: Department,
) -> None:
    other = Radiologist(code="RAD02", name="Dr Other", wrvu_per_hour=10.0)
    department.uow.seed(other)
    exam = department.exam(ExamStatus.READY_FOR_READ)
    assign(department, exam.id or 0, other.id or 0)

    with pytest.raises(ValidationFailed) as refused:
        reading.open_read(uow=department.uow, actor=READER, exam_id=exam.id or 0)

    assert refused.value.issues[0].code == "NOT_ON_YOUR_WORKLIST"
    assert exam.status == ExamStatus.READY_FOR_READ


def test_the_assigned_reader_opens_drafts_and_signs_the_final_report(
    department: Department,
) -> None:
    uow = department.uow
    exam = department.exam(ExamStatus.READY_FOR_READ)
    read = assign(department, exam.id or 0, department.reader.id or 0)

    reading.open_read(uow=uow, actor=READER, exam_id=exam.id or 0)
    assert read.pinned and read.opened_at == NOW
    reading.save_report_draft(
        uow=uow,
        actor=READER,
        exam_id=exam.id or 0,
        sections={"findings": {"findings": "Clear lungs."}},
        impression="No acute findings.",
    )
    assert uow.exams.touched == [exam]  # the draft moves the exam's version on
    report = reading.sign_final(uow=uow, actor=READER, exam_id=exam.id or 0)

    assert report.status == ReportStatus.FINAL and exam.status == ExamStatus.FINAL
    assert read.end_reason == "REPORTED"
    steps = [e.to_status for e in uow.events_of(ev.ExamStatusChanged)]  # type: ignore[attr-defined]
    assert steps == [ExamStatus.IN_INTERPRETATION, ExamStatus.FINAL]


def test_an_addendum_after_the_result_went_out_tells_whoever_received_it(
    department: Department,
) -> None:
    uow = department.uow
    exam = department.exam(ExamStatus.READY_FOR_READ)
    assign(department, exam.id or 0, department.reader.id or 0)
    reading.open_read(uow=uow, actor=READER, exam_id=exam.id or 0)
    reading.save_report_draft(
        uow=uow,
        actor=READER,
        exam_id=exam.id or 0,
        sections={"findings": {"findings": "Clear lungs."}},
        impression="No acute findings.",
    )
    reading.sign_final(uow=uow, actor=READER, exam_id=exam.id or 0)
    reading.add_addendum(uow=uow, actor=READER, exam_id=exam.id or 0, text="Before: no one told.")
    assert uow.appended.get(Notification, []) == []

    results.notify_result(
        uow=uow, actor=READER, exam_id=exam.id or 0, channel=NotificationChannel.EMAIL
    )
    reading.add_addendum(uow=uow, actor=READER, exam_id=exam.id or 0, text="Comparison: stable.")

    amended = [
        n
        for n in uow.appended[Notification]
        if n["template"] == NotificationTemplate.REPORT_AMENDED
    ]
    assert [(n["recipient_id"], n["channel"]) for n in amended] == [
        (department.referrer.id, NotificationChannel.EMAIL)
    ]
