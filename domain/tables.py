"""The Core tables behind the models, for statements that select columns rather than rows."""

from __future__ import annotations

from domain.models import (
    Acquisition,
    Addendum,
    Appointment,
    AuditEvent,
    Exam,
    ExamStatusChange,
    ModalityResource,
    Patient,
    Procedure,
    Radiologist,
    Read,
    Referrer,
    Report,
    ReportTemplate,
    Site,
    StoredStudy,
)
from domain.models._columns import core_table

ACQUISITIONS = core_table(Acquisition)
ADDENDA = core_table(Addendum)
APPOINTMENTS = core_table(Appointment)
AUDIT_EVENTS = core_table(AuditEvent)
EXAMS = core_table(Exam)
EXAM_HISTORY = core_table(ExamStatusChange)
MODALITY_RESOURCES = core_table(ModalityResource)
PATIENTS = core_table(Patient)
PROCEDURES = core_table(Procedure)
RADIOLOGISTS = core_table(Radiologist)
READS = core_table(Read)
REFERRERS = core_table(Referrer)
REPORTS = core_table(Report)
REPORT_TEMPLATES = core_table(ReportTemplate)
SITES = core_table(Site)
STORED_STUDIES = core_table(StoredStudy)
