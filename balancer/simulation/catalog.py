"""The simulated department's procedures and case mix; deadlines are the department catalogue's.

wRVU follow the published figures quoted in DOMAIN.md; read minutes are at the reference pace of
8 wRVU/hour on average but deliberately not proportional to wRVU, so some studies pay more wRVU
per minute than others (which is what makes cherry-picking tempting).
"""

from __future__ import annotations

from dataclasses import dataclass

from domain.enums import Modality, PatientClass, Priority, Subspecialty

S = Subspecialty
M = Modality


@dataclass(frozen=True, slots=True)
class ProcedureSpec:
    """A catalogue entry with its case-mix weight per patient class (ED, inpatient, outpatient)."""

    code: str
    name: str
    modality: Modality
    body_part: str
    subspecialty: Subspecialty
    wrvu: float
    read_minutes: float
    mix: tuple[float, float, float]


# Codes and body parts as in the department's catalogue (domain/catalog_data.py) where it has them.
PROCEDURES: tuple[ProcedureSpec, ...] = tuple(
    ProcedureSpec(code, name, modality, body, sub, wrvu, minutes, mix)
    for code, name, modality, body, sub, wrvu, minutes, mix in (
        ("XRCHEST2V", "XR chest 2 views", M.XR, "CHEST", S.CHEST, 0.22, 2.0, (20, 22, 10)),
        ("XRWRIST", "XR extremity", M.XR, "WRIST", S.MSK, 0.17, 2.0, (14, 4, 10)),
        ("XRSPINEL", "XR lumbar spine", M.XR, "SPINE", S.MSK, 0.22, 2.5, (3, 2, 5)),
        ("XRABD", "XR abdomen", M.XR, "ABDOMEN", S.GENERAL, 0.18, 2.0, (4, 6, 2)),
        ("CTHEAD", "CT head without contrast", M.CT, "HEAD", S.NEURO, 0.85, 5.0, (14, 8, 2)),
        ("CTHEADSTROKE", "CT angiography head and neck", M.CT, "HEAD", S.NEURO, 1.75, 16.0,
         (3, 2, 1)),
        ("CTCHEST", "CT chest with contrast", M.CT, "CHEST", S.CHEST, 1.16, 9.0, (5, 6, 5)),
        ("CTAP", "CT abdomen/pelvis with contrast", M.CT, "ABDOMEN", S.BODY, 1.82, 13.0,
         (12, 9, 6)),
        ("MRBRAIN", "MRI brain with and without contrast", M.MR, "HEAD", S.NEURO, 2.3, 19.0,
         (1, 4, 6)),
        ("MRSPINEL", "MRI lumbar spine", M.MR, "SPINE", S.NEURO, 1.48, 12.0, (1, 2, 5)),
        ("MRKNEE", "MRI knee", M.MR, "KNEE", S.MSK, 1.35, 11.0, (0, 0, 5)),
        ("USABD", "US abdomen complete", M.US, "ABDOMEN", S.BODY, 0.81, 6.0, (6, 8, 8)),
        ("USPELVIS", "US pelvis", M.US, "PELVIS", S.BODY, 0.69, 6.0, (3, 2, 5)),
        ("MGSCREEN", "Screening mammogram", M.MG, "BREAST", S.BREAST, 0.75, 4.0, (0, 0, 10)),
        ("MGDIAG", "Diagnostic mammogram", M.MG, "BREAST", S.BREAST, 0.87, 8.0, (0, 0, 3)),
        ("NMPETCT", "PET/CT skull base to thigh", M.PT, "WHOLEBODY", S.NUCLEAR, 2.4, 22.0,
         (0, 1, 3)),
        ("NMBONE", "NM whole-body bone scan", M.NM, "WHOLEBODY", S.NUCLEAR, 0.86, 8.0, (0, 1, 2)),
        ("XRPEDCHEST", "XR chest pediatric", M.XR, "CHEST", S.PEDIATRIC, 0.2, 2.5, (4, 2, 2)),
        ("USPEDABD", "US abdomen pediatric", M.US, "ABDOMEN", S.PEDIATRIC, 0.75, 8.0, (2, 1, 1)),
        ("CTCORONARY", "Cardiac CT angiography", M.CT, "HEART", S.CARDIAC, 2.0, 25.0, (1, 1, 2)),
        ("FLGUIDE", "Fluoroscopic guidance review", M.FL, "ABDOMEN", S.IR, 0.6, 6.0, (0, 2, 1)),
    )
)  # fmt: skip

CLASSES = (PatientClass.ED, PatientClass.INPATIENT, PatientClass.OUTPATIENT)
CLASS_SHARE = {PatientClass.ED: 0.30, PatientClass.INPATIENT: 0.25, PatientClass.OUTPATIENT: 0.45}

# Priority mix per patient class at arrival (the open backlog holds fewer STATs: they go fast).
PRIORITY_SHARE = {
    PatientClass.ED: {Priority.STAT: 0.25, Priority.URGENT: 0.40, Priority.ROUTINE: 0.35},
    PatientClass.INPATIENT: {Priority.STAT: 0.08, Priority.URGENT: 0.30, Priority.ROUTINE: 0.62},
    PatientClass.OUTPATIENT: {Priority.STAT: 0.01, Priority.URGENT: 0.07, Priority.ROUTINE: 0.92},
}
