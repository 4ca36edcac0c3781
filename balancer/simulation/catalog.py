"""The simulated department's case mix over the department's catalogue.

Procedures (name, modality, body part, subspecialty, wRVU, read minutes) and deadlines are the
department catalogue's (`domain/catalog_data.py`), the same the live department is seeded with;
what only a simulation needs is here: how often each procedure arrives per patient class.
"""

from __future__ import annotations

from dataclasses import dataclass

from domain.catalog_data import PROCEDURES as CATALOGUE
from domain.enums import Modality, PatientClass, Priority, Subspecialty

S = Subspecialty
M = Modality


@dataclass(frozen=True, slots=True)
class ProcedureSpec:
    """A catalogue procedure with its case-mix weight per class (ED, inpatient, outpatient)."""

    code: str
    name: str
    modality: Modality
    body_part: str
    subspecialty: Subspecialty
    wrvu: float
    read_minutes: float
    mix: tuple[float, float, float]


# How often each catalogue procedure arrives, per patient class (ED, inpatient, outpatient):
# relative weights within a class.
CASE_MIX: dict[str, tuple[float, float, float]] = {
    "XRCHEST2V": (20, 22, 10),
    "XRWRIST": (14, 4, 10),
    "XRSPINEL": (3, 2, 5),
    "CTHEAD": (14, 8, 2),
    "CTHEADSTROKE": (3, 2, 1),
    "CTCHEST": (5, 6, 5),
    "CTAP": (12, 9, 6),
    "MRBRAIN": (1, 4, 6),
    "MRSPINEL": (1, 2, 5),
    "MRKNEE": (0, 0, 5),
    "USABD": (6, 8, 8),
    "USPELVIS": (3, 2, 5),
    "MGSCREEN": (0, 0, 10),
    "MGDIAG": (0, 0, 3),
    "NMPETCT": (0, 1, 3),
    "NMBONE": (0, 1, 2),
    "XRPEDCHEST": (4, 2, 2),
    # The nearest catalogue entries for what an earlier, separate simulator list had instead
    # (abdominal film, paediatric abdomen, coronary CT, fluoroscopy review).
    "XRCHEST1V": (4, 6, 2),
    "USPEDHIP": (2, 1, 1),
    "MRCARDIAC": (1, 1, 2),
    "USDVT": (0, 2, 1),
}

_CATALOGUE = {p.code: p for p in CATALOGUE}
PROCEDURES: tuple[ProcedureSpec, ...] = tuple(
    ProcedureSpec(
        code,
        _CATALOGUE[code].name,
        _CATALOGUE[code].modality,
        _CATALOGUE[code].body_part,
        _CATALOGUE[code].subspecialty,
        _CATALOGUE[code].wrvu,
        float(_CATALOGUE[code].read_minutes),
        mix,
    )
    for code, mix in CASE_MIX.items()
)

CLASSES = (PatientClass.ED, PatientClass.INPATIENT, PatientClass.OUTPATIENT)
CLASS_SHARE = {PatientClass.ED: 0.30, PatientClass.INPATIENT: 0.25, PatientClass.OUTPATIENT: 0.45}

# Priority mix per patient class at arrival (the open backlog holds fewer STATs: they go fast).
PRIORITY_SHARE = {
    PatientClass.ED: {Priority.STAT: 0.25, Priority.URGENT: 0.40, Priority.ROUTINE: 0.35},
    PatientClass.INPATIENT: {Priority.STAT: 0.08, Priority.URGENT: 0.30, Priority.ROUTINE: 0.62},
    PatientClass.OUTPATIENT: {Priority.STAT: 0.01, Priority.URGENT: 0.07, Priority.ROUTINE: 0.92},
}
