"""Prep, acquisition and storage, on the in-memory unit of work."""

from __future__ import annotations

from datetime import timedelta

from domain.catalog_data import TURNAROUND_MINUTES
from domain.enums import ExamStatus
from domain.models import Acquisition, ExamPrepItem, MetadataValidation
from domain.services import acquisition
from tests.unit.services.conftest import NOW, TECH, Department


def test_the_last_prep_item_of_a_checked_in_exam_makes_it_prepared(
    department: Department,
) -> None:
    exam = department.exam(ExamStatus.CHECKED_IN)
    uow = department.uow
    uow.prep.copy_protocol(exam.id or 0, department.procedure.prep_protocol_id or 0)

    acquisition.complete_prep_item(
        uow=uow, actor=TECH, exam_id=exam.id or 0, item_code="ALLERGY_CHECK"
    )
    assert exam.status == ExamStatus.CHECKED_IN  # one item still open

    acquisition.complete_prep_item(
        uow=uow, actor=TECH, exam_id=exam.id or 0, item_code="EGFR_CHECK"
    )
    assert exam.status == ExamStatus.PREPARED
    assert all(i.completed_by == TECH.id for i in uow.rows.all(ExamPrepItem))


def test_storing_a_study_makes_it_ready_and_due_by_the_catalogues_target(
    department: Department,
) -> None:
    exam = department.exam(ExamStatus.ACQUIRED)
    uow = department.uow
    uow.seed(
        Acquisition(
            exam_id=exam.id or 0,
            attempt=1,
            resource_id=department.scanner.id or 0,
            technologist=TECH.id,
            started_at=NOW - timedelta(minutes=20),
            ended_at=NOW - timedelta(minutes=5),
            series_count=3,
            image_count=450,
        )
    )
    acquisition.validate_metadata(
        uow=uow,
        actor=TECH,
        exam_id=exam.id or 0,
        header=acquisition.StudyHeader(
            accession_number=exam.accession_number,
            patient_mrn="MRN000001",
            modality=department.procedure.modality,
            body_part="chest",
            procedure_code="CTCHEST",
        ),
    )

    [validation] = uow.rows.all(MetadataValidation)
    assert validation.valid and validation.header == {
        "accession_number": exam.accession_number,
        "patient_mrn": "MRN000001",
        "modality": department.procedure.modality.value,
        "body_part": "chest",
        "procedure_code": "CTCHEST",
    }

    study = acquisition.register_storage(
        uow=uow,
        actor=TECH,
        exam_id=exam.id or 0,
        study_instance_uid="1.2.3.4",
        archive_location="pacs://a",
    )

    assert exam.status == ExamStatus.READY_FOR_READ
    assert (study.series_count, study.image_count) == (3, 450)
    minutes = TURNAROUND_MINUTES[(exam.priority, exam.patient_class)]
    assert exam.due_at == NOW + timedelta(minutes=minutes)
