"""Registering a stored study, in the database: its UID is unique, its metadata must have
passed the latest validation, and it carries the last acquisition attempt's counts."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import col

from domain.db import Database
from domain.enums import ExamStatus, RepeatReason
from domain.errors import PreconditionFailed, ValidationFailed
from domain.models import Acquisition
from domain.services import acquisition
from tests.factories import TECH, current, drive, header_for, order, reference

pytestmark = pytest.mark.usefixtures("backend")


def store(exam_id: int, uid: str) -> Any:
    return lambda uow: acquisition.register_storage(
        uow=uow, actor=TECH, exam_id=exam_id, study_instance_uid=uid, archive_location="pacs://a"
    )


async def acquire_again(
    db: Database, exam_id: int, reason: RepeatReason, *, series: int, images: int
) -> None:
    """A repeat requested for `reason`, then its acquisition completed with these counts."""
    await db.run(
        lambda uow: acquisition.request_repeat(uow=uow, actor=TECH, exam_id=exam_id, reason=reason)
    )
    await db.run(
        lambda uow: acquisition.complete_acquisition(
            uow=uow, actor=TECH, exam_id=exam_id, series_count=series, image_count=images
        )
    )


async def test_a_study_is_stored_only_after_valid_metadata_with_the_last_attempts_counts(
    db: Database,
) -> None:
    await reference(db)
    exam = await drive(db, await order(db), ExamStatus.ACQUIRED)  # 2 series, 120 images
    assert exam.id is not None
    exam_id = exam.id
    header = await header_for(db, exam)
    with pytest.raises(PreconditionFailed) as refused:  # no validation yet
        await db.run(store(exam_id, "1.2.3.4"))
    assert refused.value.code == "METADATA_NOT_VALIDATED"

    await acquire_again(db, exam_id, RepeatReason.MOTION, series=5, images=300)
    await db.run(
        lambda uow: acquisition.validate_metadata(
            uow=uow, actor=TECH, exam_id=exam_id, header=header
        )
    )
    study = await db.run(store(exam_id, "1.2.3.4"))
    assert (study.series_count, study.image_count) == (5, 300)
    attempts = await db.read(
        lambda s: [
            (a.attempt, a.series_count, a.repeat_reason)
            for a in s.scalars(
                sa.select(Acquisition)
                .where(col(Acquisition.exam_id) == exam_id)
                .order_by(col(Acquisition.id))
            )
        ]
    )
    assert attempts == [(1, 2, RepeatReason.MOTION), (2, 5, None)]
    assert (await current(db, exam_id)).status == ExamStatus.READY_FOR_READ

    other = await drive(db, await order(db), ExamStatus.ACQUIRED)
    assert other.id is not None
    with pytest.raises(ValidationFailed) as taken:
        await db.run(store(other.id, "1.2.3.4"))
    [issue] = taken.value.issues
    assert (issue.field, issue.code) == ("study_instance_uid", "DUPLICATE_UID")


async def test_a_repeats_new_study_is_not_stored_on_the_last_attempts_validation(
    db: Database,
) -> None:
    await reference(db)
    exam = await drive(db, await order(db), ExamStatus.ACQUIRED)
    assert exam.id is not None
    exam_id = exam.id
    header = await header_for(db, exam)

    def validate(uow: Any) -> Any:
        return acquisition.validate_metadata(uow=uow, actor=TECH, exam_id=exam_id, header=header)

    first = await db.run(validate)
    assert first.valid and first.attempt == 1
    await acquire_again(db, exam_id, RepeatReason.ARTIFACT, series=3, images=90)
    with pytest.raises(PreconditionFailed) as refused:  # attempt 1's check, not attempt 2's
        await db.run(store(exam_id, "1.2.3.9"))
    assert refused.value.code == "METADATA_NOT_VALIDATED"
    assert (await current(db, exam_id)).status == ExamStatus.ACQUIRED

    second = await db.run(validate)
    assert second.valid and second.attempt == 2
    study = await db.run(store(exam_id, "1.2.3.9"))
    assert (study.series_count, study.image_count) == (3, 90)
    assert (await current(db, exam_id)).status == ExamStatus.READY_FOR_READ
