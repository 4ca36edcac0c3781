"""The exam (one ordered procedure for one patient) and its append-only status history."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field

from domain.enums import ExamStatus, PatientClass, Priority, Role
from domain.models._columns import choice, ref, text, when
from domain.models._row import Row

# Optimistic concurrency: SQLAlchemy adds "AND version = :seen" to every UPDATE of an exam.
_EXAM_VERSION = sa.Column("version", sa.Integer, nullable=False, default=1)


class Exam(Row, table=True):
    """An ordered exam; the order's fields live here because one order is one exam.

    `version` is bumped by every change and checked on write, so two concurrent changes to the
    same exam cannot both win.
    """

    __tablename__ = "exams"
    __table_args__ = (
        sa.UniqueConstraint(
            "order_source", "placer_order_number", "placer_scope", name="uq_exam_placer_order"
        ),
        sa.Index("ix_exams_ordered_at_id", "ordered_at", "id"),
        sa.Index("ix_exams_status_priority", "status", "priority"),
    )

    id: int | None = Field(default=None, primary_key=True)
    accession_number: str = text(20, unique=True)
    order_source: str = text(64)
    placer_order_number: str = text(64)
    # Whose placer numbers these are: "" for the department's order sources (orders placed by
    # a scheduler, an integration or an admin), a referrer's code for the orders they placed
    # themselves. A re-sent order is recognised only within the caller's own scope, so a
    # placer number guessed from another scope can never answer with that scope's exam.
    placer_scope: str = Field(default="", max_length=64, sa_column_kwargs={"server_default": ""})
    patient_id: int = ref("patients")
    referrer_id: int = ref("referrers")
    procedure_id: int = ref("procedures")
    site_id: int = ref("sites")
    priority: Priority = choice(Priority)
    patient_class: PatientClass = choice(PatientClass)
    indication: str = text(2000)
    icd10_code: str = text(8)
    status: ExamStatus = choice(ExamStatus)
    version: int = Field(default=1, sa_column=_EXAM_VERSION)
    ordered_at: datetime = when()
    status_changed_at: datetime = when()
    ready_at: datetime | None = when(nullable=True)
    due_at: datetime | None = when(nullable=True)

    __mapper_args__ = {"version_id_col": _EXAM_VERSION}


class ExamStatusChange(Row, table=True):
    """One entry of an exam's append-only history: who moved it from where to where, and why."""

    __tablename__ = "exam_status_history"

    id: int | None = Field(default=None, primary_key=True)
    exam_id: int = ref("exams")
    from_status: ExamStatus | None = choice(ExamStatus, nullable=True)
    to_status: ExamStatus = choice(ExamStatus)
    event: str = text(48)
    actor: str = text(64)
    role: Role = choice(Role)
    at: datetime = when(index=True)
    reason: str | None = text(500, nullable=True)
