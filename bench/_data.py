"""Bulk-loaded benchmark departments (fast inserts, not the services: set-up is not measured)."""

from __future__ import annotations

import random
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlmodel import SQLModel, col

import domain.models as m
from application.demo import seed_reference
from domain.db import Database
from domain.enums import ExamStatus, PatientClass, Priority, ReportStatus
from domain.services.orders import new_accession_number
from domain.types import utcnow


def create_schema(db: Database) -> None:
    """Create every table (benchmarks start from an empty database)."""
    if db.sync_engine is not None:
        SQLModel.metadata.create_all(db.sync_engine)


async def reset_postgres(db: Database) -> None:
    """Drop and recreate the schema of a PostgreSQL benchmark database."""
    assert db.async_engine is not None
    async with db.async_engine.begin() as connection:
        await connection.execute(sa.text("DROP SCHEMA IF EXISTS public CASCADE"))
        await connection.execute(sa.text("CREATE SCHEMA public"))
        await connection.run_sync(SQLModel.metadata.create_all)


def bulk_exams(session: Session, count: int, *, seed: int = 1) -> None:
    """`count` exams spread over statuses, about half with a report."""
    rng = random.Random(seed)
    patients = list(session.scalars(sa.select(col(m.Patient.id))))
    referrers = list(session.scalars(sa.select(col(m.Referrer.id))))
    procedures = list(session.scalars(sa.select(col(m.Procedure.id))))
    sites = list(session.scalars(sa.select(col(m.Site.id))))
    radiologists = list(session.scalars(sa.select(col(m.Radiologist.id))))
    now = utcnow()
    statuses = list(ExamStatus)
    rows: list[dict[str, object]] = []
    reports: list[dict[str, object]] = []
    for n in range(count):
        at = now - timedelta(minutes=n * 3)
        status = rng.choice(statuses)
        rows.append(
            {
                "accession_number": new_accession_number(),
                "order_source": "BENCH",
                "placer_order_number": f"B{n:08d}",
                "patient_id": rng.choice(patients),
                "referrer_id": rng.choice(referrers),
                "procedure_id": rng.choice(procedures),
                "site_id": rng.choice(sites),
                "priority": rng.choice(list(Priority)),
                "patient_class": rng.choice(list(PatientClass)),
                "indication": "Pain",
                "icd10_code": "R52",
                "status": status,
                "version": 1,
                "ordered_at": at,
                "status_changed_at": at,
            }
        )
    session.execute(sa.insert(m.Exam), rows)
    ids = list(session.scalars(sa.select(col(m.Exam.id)).order_by(col(m.Exam.id))))
    for exam_id in ids[::2]:
        reports.append(
            {
                "exam_id": exam_id,
                "radiologist_id": rng.choice(radiologists),
                "status": rng.choice(list(ReportStatus)),
                "content": {},
                "impression": "Normal.",
                "critical_level": "NONE",
                "created_at": now,
                "updated_at": now,
            }
        )
    session.execute(sa.insert(m.Report), reports)


async def department(db: Database, exams: int, *, patients: int = 2000) -> None:
    """Reference data plus `exams` bulk-loaded exams."""
    await db.run(lambda uow: seed_reference(uow, patients=patients))
    await db.run(lambda uow: bulk_exams(uow.session, exams))
