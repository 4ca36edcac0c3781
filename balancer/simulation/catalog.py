"""A realistic procedure catalogue, case mix and turnaround targets for demo data and simulation.

wRVU follow the published figures quoted in DOMAIN.md; read minutes are at the reference pace of
8 wRVU/hour on average but deliberately not proportional to wRVU, so some studies pay more wRVU
per minute than others (which is what makes cherry-picking tempting).
"""

from __future__ import annotations

from dataclasses import dataclass

from domain.enums import Modality, PatientClass, Priority, Subspecialty

S = Subspecialty


@dataclass(frozen=True, slots=True)
class ProcedureSpec:
    """A catalogue entry with its case-mix weight per patient class (ED, inpatient, outpatient)."""

    code: str
    name: str
    modality: Modality
    subspecialty: Subspecialty
    wrvu: float
    read_minutes: float
    mix: tuple[float, float, float]


PROCEDURES: tuple[ProcedureSpec, ...] = (
    ProcedureSpec("XR-CHEST2", "XR chest 2 views", Modality.XR, S.CHEST, 0.22, 2.0, (20, 22, 10)),
    ProcedureSpec("XR-EXTREM", "XR extremity", Modality.XR, S.MSK, 0.17, 2.0, (14, 4, 10)),
    ProcedureSpec("XR-SPINE", "XR lumbar spine", Modality.XR, S.MSK, 0.22, 2.5, (3, 2, 5)),
    ProcedureSpec("XR-ABD", "XR abdomen", Modality.XR, S.GENERAL, 0.18, 2.0, (4, 6, 2)),
    ProcedureSpec(
        "CT-HEAD", "CT head without contrast", Modality.CT, S.NEURO, 0.85, 5.0, (14, 8, 2)
    ),
    ProcedureSpec(
        "CTA-HN", "CT angiography head and neck", Modality.CT, S.NEURO, 1.75, 16.0, (3, 2, 1)
    ),
    ProcedureSpec("CT-CHEST", "CT chest with contrast", Modality.CT, S.CHEST, 1.16, 9.0, (5, 6, 5)),
    ProcedureSpec(
        "CT-AP", "CT abdomen/pelvis with contrast", Modality.CT, S.BODY, 1.82, 13.0, (12, 9, 6)
    ),
    ProcedureSpec(
        "MR-BRAIN",
        "MRI brain with and without contrast",
        Modality.MR,
        S.NEURO,
        2.3,
        19.0,
        (1, 4, 6),
    ),
    ProcedureSpec("MR-LSPINE", "MRI lumbar spine", Modality.MR, S.NEURO, 1.48, 12.0, (1, 2, 5)),
    ProcedureSpec("MR-KNEE", "MRI knee", Modality.MR, S.MSK, 1.35, 11.0, (0, 0, 5)),
    ProcedureSpec("US-ABD", "US abdomen complete", Modality.US, S.BODY, 0.81, 6.0, (6, 8, 8)),
    ProcedureSpec("US-PELVIS", "US pelvis", Modality.US, S.BODY, 0.69, 6.0, (3, 2, 5)),
    ProcedureSpec("MG-SCREEN", "Screening mammogram", Modality.MG, S.BREAST, 0.75, 4.0, (0, 0, 10)),
    ProcedureSpec("MG-DIAG", "Diagnostic mammogram", Modality.MG, S.BREAST, 0.87, 8.0, (0, 0, 3)),
    ProcedureSpec(
        "PET-CT", "PET/CT skull base to thigh", Modality.PT, S.NUCLEAR, 2.4, 22.0, (0, 1, 3)
    ),
    ProcedureSpec(
        "NM-BONE", "NM whole-body bone scan", Modality.NM, S.NUCLEAR, 0.86, 8.0, (0, 1, 2)
    ),
    ProcedureSpec("XR-PEDS", "XR chest pediatric", Modality.XR, S.PEDIATRIC, 0.2, 2.5, (4, 2, 2)),
    ProcedureSpec(
        "US-PEDS", "US abdomen pediatric", Modality.US, S.PEDIATRIC, 0.75, 8.0, (2, 1, 1)
    ),
    ProcedureSpec(
        "CT-CARD", "Cardiac CT angiography", Modality.CT, S.CARDIAC, 2.0, 25.0, (1, 1, 2)
    ),
    ProcedureSpec(
        "FL-GUIDE", "Fluoroscopic guidance review", Modality.FL, S.IR, 0.6, 6.0, (0, 2, 1)
    ),
)

CLASSES = (PatientClass.ED, PatientClass.INPATIENT, PatientClass.OUTPATIENT)
CLASS_SHARE = {PatientClass.ED: 0.30, PatientClass.INPATIENT: 0.25, PatientClass.OUTPATIENT: 0.45}

# Priority mix per patient class at arrival (the open backlog holds fewer STATs: they go fast).
PRIORITY_SHARE = {
    PatientClass.ED: {Priority.STAT: 0.25, Priority.URGENT: 0.40, Priority.ROUTINE: 0.35},
    PatientClass.INPATIENT: {Priority.STAT: 0.08, Priority.URGENT: 0.30, Priority.ROUTINE: 0.62},
    PatientClass.OUTPATIENT: {Priority.STAT: 0.01, Priority.URGENT: 0.07, Priority.ROUTINE: 0.92},
}

# Turnaround targets in minutes from availability to report, per priority and patient class.
TURNAROUND_MINUTES = {
    (Priority.STAT, PatientClass.ED): 30,
    (Priority.STAT, PatientClass.INPATIENT): 45,
    (Priority.STAT, PatientClass.OUTPATIENT): 60,
    (Priority.URGENT, PatientClass.ED): 60,
    (Priority.URGENT, PatientClass.INPATIENT): 120,
    (Priority.URGENT, PatientClass.OUTPATIENT): 240,
    (Priority.ROUTINE, PatientClass.ED): 120,
    (Priority.ROUTINE, PatientClass.INPATIENT): 24 * 60,
    (Priority.ROUTINE, PatientClass.OUTPATIENT): 3 * 24 * 60,
}
