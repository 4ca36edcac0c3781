"""Test data: the demo department's reference data, and exams driven to any status."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from application.demo import seed_reference
from domain.db import Database
from domain.enums import CriticalLevel, ExamStatus, Modality, PatientClass, Priority, Role
from domain.lifecycle import Actor
from domain.models import Exam
from domain.services import acquisition, orders, reading, results, scheduling, worklists
from domain.types import utcnow
from tests.snapshots import Recording, is_empty, on_connection, record, replay

REFERRER = Actor("REF01", Role.REFERRER)
SCHEDULER = Actor("frontdesk", Role.SCHEDULER)
TECH = Actor("tech.lee", Role.TECHNOLOGIST)
SUPERVISOR = Actor("sup.ortiz", Role.SUPERVISOR)
RADIOLOGIST = Actor("RAD03", Role.RADIOLOGIST)  # BODY + GENERAL, both sites
SYSTEM = Actor("system", Role.SYSTEM)

# USABD: ultrasound abdomen (BODY, FASTING prep, NORTH site); CTHEAD: no prep (NEURO, MAIN).
REPORT = {
    "clinical": {"indication": "Pain"},
    "technique": {"technique": "Standard"},
    "findings": {"findings": "Normal"},
}

_placer = iter(range(1, 10**9))


_recorded: dict[datetime, Recording] = {}


async def reference(db: Database) -> None:
    """Sites, scanners, catalog, radiologists, referrers, 20 patients; RAD03 on shift.

    Most tests start from this department at the same time: it is built by `seed` once per
    clock time (on a database of its own) and replayed into an empty database, which gets the
    same rows and publishes the same events (tests/integration/test_snapshots.py). A database
    that is not empty, or one on the real clock, is seeded for real."""
    now = db.clock()
    if db.clock is utcnow or not await on_connection(db, is_empty):
        await seed(db)
        return
    if now not in _recorded:
        _recorded[now] = await record(seed, now)
    await replay(db, _recorded[now])


async def seed(db: Database) -> None:
    """What `reference` builds, through the services (two commands)."""
    await db.run(lambda uow: seed_reference(uow, patients=20))
    await db.run(
        lambda uow: worklists.start_shift(
            uow=uow,
            actor=SUPERVISOR,
            radiologist_code=RADIOLOGIST.id,
            site_code="MAIN",
            ends_at=uow.now + timedelta(hours=23),
        )
    )


async def order(
    db: Database,
    *,
    procedure: str = "USABD",
    site: str = "NORTH",
    priority: Priority = Priority.ROUTINE,
    patient_class: PatientClass = PatientClass.OUTPATIENT,
    placer: str | None = None,
    **extra: Any,
) -> Exam:
    """Place an order and return its exam."""
    placed = await db.run(
        lambda uow: orders.place_order(
            uow=uow,
            actor=REFERRER,
            order_source="EPIC",
            placer_order_number=placer or f"T{next(_placer):08d}",
            patient_mrn="MRN000001",
            referrer_code="REF01",
            procedure_code=procedure,
            site_code=site,
            priority=priority,
            patient_class=patient_class,
            indication="Abdominal pain",
            icd10_code="R10.9",
            **extra,
        )
    )
    return placed.exam


async def first_slot(db: Database, procedure: str) -> scheduling.Slot:
    """The earliest free slot for a procedure from now."""
    now = db.clock()
    slots = await db.read(
        lambda s: scheduling.open_slots(
            s, procedure_code=procedure, start=now, end=now + timedelta(days=14), now=now
        )
    )
    return slots[0]


async def drive(
    db: Database,
    exam: Exam,
    target: ExamStatus,
    *,
    procedure: str = "USABD",
    critical: CriticalLevel = CriticalLevel.NONE,
) -> Exam:
    """Take an ordered exam through the real services until it reaches `target`."""
    pk = exam.id
    assert pk is not None

    async def step(fn: Any, **kwargs: Any) -> Any:
        return await db.run(lambda uow: fn(uow=uow, exam_id=pk, **kwargs))

    clock = db.clock
    if target == ExamStatus.ORDERED:
        return await current(db, pk)
    slot = await first_slot(db, procedure)
    await step(
        scheduling.schedule_exam,
        actor=SCHEDULER,
        resource_code=slot.resource_code,
        starts_at=slot.starts_at,
    )
    if target in {ExamStatus.SCHEDULED, ExamStatus.CANCELLED, ExamStatus.NO_SHOW}:
        if target == ExamStatus.CANCELLED:
            await step(scheduling.cancel_exam, actor=SCHEDULER, reason="Patient request")
        if target == ExamStatus.NO_SHOW:
            clock.advance(seconds=(slot.starts_at - clock()).total_seconds() + 600)  # type: ignore[attr-defined]
            await step(scheduling.mark_no_show, actor=SCHEDULER)
        return await current(db, pk)
    clock.advance(seconds=(slot.starts_at - clock()).total_seconds())  # type: ignore[attr-defined]
    await step(scheduling.check_in, actor=SCHEDULER)
    if target == ExamStatus.CHECKED_IN:
        return await current(db, pk)
    codes = await db.read(
        lambda s: list(
            s.scalars(
                sa.text(
                    "SELECT code FROM exam_prep_items WHERE exam_id = :e ORDER BY position"
                ).bindparams(e=pk)
            )
        )
    )
    for code in codes:
        await step(acquisition.complete_prep_item, actor=TECH, item_code=code)
    if target == ExamStatus.PREPARED:
        return await current(db, pk)
    await step(acquisition.start_acquisition, actor=TECH, resource_code=slot.resource_code)
    if target == ExamStatus.IN_ACQUISITION:
        return await current(db, pk)
    await step(acquisition.complete_acquisition, actor=TECH, series_count=2, image_count=120)
    if target == ExamStatus.ACQUIRED:
        return await current(db, pk)
    exam = await current(db, pk)
    header = await header_for(db, exam)
    if target == ExamStatus.METADATA_REJECTED:
        bad = acquisition.StudyHeader(**{**header.__dict__, "patient_mrn": "MRN999999"})
        await step(acquisition.validate_metadata, actor=TECH, header=bad)
        return await current(db, pk)
    await step(acquisition.validate_metadata, actor=TECH, header=header)
    await step(
        acquisition.register_storage,
        actor=TECH,
        study_instance_uid=f"1.2.826.0.1.{pk}",
        archive_location="pacs://a/1",
    )
    if target == ExamStatus.READY_FOR_READ:
        return await current(db, pk)
    await step(
        worklists.pin_assignment, actor=SUPERVISOR, radiologist_code=RADIOLOGIST.id, reason="test"
    )
    await step(reading.open_read, actor=RADIOLOGIST)
    if target == ExamStatus.IN_INTERPRETATION:
        return await current(db, pk)
    await step(
        reading.save_report_draft,
        actor=RADIOLOGIST,
        sections=REPORT,
        impression="Normal study.",
        critical_level=critical,
    )
    if target == ExamStatus.PRELIMINARY:
        await step(reading.sign_preliminary, actor=RADIOLOGIST)
        return await current(db, pk)
    await step(reading.sign_final, actor=RADIOLOGIST)
    if target == ExamStatus.FINAL:
        return await current(db, pk)
    await step(results.notify_result, actor=RADIOLOGIST)
    if target == ExamStatus.COMMUNICATED:
        return await current(db, pk)
    if critical != CriticalLevel.NONE:
        await step(results.acknowledge_result, actor=REFERRER)
    await step(results.close_exam, actor=SUPERVISOR)
    return await current(db, pk)


async def current(db: Database, exam_id: int) -> Exam:
    """The exam as stored now."""
    exam = await db.read(lambda s: s.get(Exam, exam_id))
    assert exam is not None
    return exam


async def header_for(db: Database, exam: Exam) -> acquisition.StudyHeader:
    """A DICOM header that matches the exam's order."""
    row = await db.read(
        lambda s: s.execute(
            sa.text(
                "SELECT p.mrn, pr.code, pr.modality, pr.body_part FROM exams e "
                "JOIN patients p ON p.id = e.patient_id "
                "JOIN procedures pr ON pr.id = e.procedure_id "
                "WHERE e.id = :e"
            ).bindparams(e=exam.id)
        ).one()
    )
    return acquisition.StudyHeader(
        accession_number=exam.accession_number,
        patient_mrn=row[0],
        procedure_code=row[1],
        modality=Modality(row[2]),
        body_part=row[3],
    )


def count_rows(table: str) -> Any:
    """A read function counting the rows of a table."""
    return lambda s: s.scalar(sa.text(f"SELECT count(*) FROM {table}"))


async def seeded_demo(path: Path) -> str:
    """A SQLite file at `path` with the demo department seeded (`radflow seed`'s exams, not
    its rules); returns its URL."""
    from sqlmodel import SQLModel

    from application.demo import seed_demo

    url = f"sqlite:///{path}"
    demo = Database(url)
    assert demo.sync_engine is not None
    SQLModel.metadata.create_all(demo.sync_engine)
    await demo.dispose()
    assert await seed_demo(url) > 0
    return url
