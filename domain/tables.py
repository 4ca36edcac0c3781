"""The Core tables behind the models, for statements that select columns rather than rows."""

from __future__ import annotations

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
from domain.models._columns import core_table

AUDIT_EVENTS = core_table(AuditEvent)
EXAMS = core_table(Exam)
EXAM_HISTORY = core_table(ExamStatusChange)
PATIENTS = core_table(Patient)
PROCEDURES = core_table(Procedure)
RADIOLOGISTS = core_table(Radiologist)
READS = core_table(Read)
REFERRERS = core_table(Referrer)
REPORTS = core_table(Report)
SITES = core_table(Site)
