"""The simulated department's case mix over the department's catalogue.

What a procedure is (modality, body part, subspecialty, wRVU, read minutes) and when its read is
due come from the catalogue the live department reads (domain/catalog_data.py); the simulator's
own data is how often each procedure arrives per patient class, the share of each class and the
priority mix within it.
"""

from __future__ import annotations

from dataclasses import dataclass

from domain.catalog_data import PROCEDURES as CATALOG
from domain.catalog_data import CatalogProcedure
from domain.enums import Modality, PatientClass, Priority, Subspecialty


@dataclass(frozen=True, slots=True)
class ProcedureSpec:
    """A catalogue procedure with its arrival weights per class (ED, inpatient, outpatient)."""

    code: str
    name: str
    modality: Modality
    body_part: str
    subspecialty: Subspecialty
    wrvu: float
    read_minutes: float
    mix: tuple[float, float, float]

    @classmethod
    def of(cls, procedure: CatalogProcedure, mix: tuple[float, float, float]) -> ProcedureSpec:
        """The catalogue's procedure, arriving with the given weights."""
        return cls(procedure.code, procedure.name, procedure.modality, procedure.body_part,
                   procedure.subspecialty, procedure.wrvu, float(procedure.read_minutes), mix)


# Relative arrivals per patient class (ED, inpatient, outpatient), by catalogue code; procedures
# the catalogue has and this table does not never arrive in a simulated day.
MIX: dict[str, tuple[float, float, float]] = {
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
    "USPEDHIP": (2, 1, 1),
    "MRCARDIAC": (1, 1, 2),
}

_BY_CODE = {p.code: p for p in CATALOG}
PROCEDURES: tuple[ProcedureSpec, ...] = tuple(
    ProcedureSpec.of(_BY_CODE[code], mix) for code, mix in MIX.items()
)

CLASSES = (PatientClass.ED, PatientClass.INPATIENT, PatientClass.OUTPATIENT)
CLASS_SHARE = {PatientClass.ED: 0.30, PatientClass.INPATIENT: 0.25, PatientClass.OUTPATIENT: 0.45}

# Priority mix per patient class at arrival (the open backlog holds fewer STATs: they go fast).
PRIORITY_SHARE = {
    PatientClass.ED: {Priority.STAT: 0.25, Priority.URGENT: 0.40, Priority.ROUTINE: 0.35},
    PatientClass.INPATIENT: {Priority.STAT: 0.08, Priority.URGENT: 0.30, Priority.ROUTINE: 0.62},
    PatientClass.OUTPATIENT: {Priority.STAT: 0.01, Priority.URGENT: 0.07, Priority.ROUTINE: 0.92},
}
