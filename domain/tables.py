"""The Core tables behind the models, for statements that select columns rather than rows."""

from __future__ import annotations

import sqlalchemy as sa

from domain.models import (
    AuditEvent,
    Exam,
    ExamStatusChange,
    Patient,
    Procedure,
    Radiologist,
    Read,
    Referrer,
    Report,
    Site,
)

AUDIT_EVENTS: sa.Table = AuditEvent.__table__  # type: ignore[attr-defined]
EXAMS: sa.Table = Exam.__table__  # type: ignore[attr-defined]
EXAM_HISTORY: sa.Table = ExamStatusChange.__table__  # type: ignore[attr-defined]
PATIENTS: sa.Table = Patient.__table__  # type: ignore[attr-defined]
PROCEDURES: sa.Table = Procedure.__table__  # type: ignore[attr-defined]
RADIOLOGISTS: sa.Table = Radiologist.__table__  # type: ignore[attr-defined]
READS: sa.Table = Read.__table__  # type: ignore[attr-defined]
REFERRERS: sa.Table = Referrer.__table__  # type: ignore[attr-defined]
REPORTS: sa.Table = Report.__table__  # type: ignore[attr-defined]
SITES: sa.Table = Site.__table__  # type: ignore[attr-defined]
