"""The department's catalogue: procedures, turnaround targets, prep protocols, report templates.

The one copy of this reference data: the seed writes it into the live department's tables, and
the rules' default turnaround and the simulator's deadlines are its turnaround targets. wRVU
values follow DOMAIN.md's reference figures where given (CT head 0.85, CT abdomen/pelvis with
contrast 1.8, screening mammogram 0.75, abdominal US 0.8, MRI brain w/wo 2.3, PET/CT 2.4, chest
X-ray 2 views 0.2) and typical values for the rest.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import NamedTuple

from domain.enums import Modality, PatientClass, Priority, Subspecialty
from domain.reporting import CodeSystem, field_document

M, S = Modality, Subspecialty


class CatalogProcedure(NamedTuple):
    """One orderable procedure: what it images, who reads it, what it is worth and needs."""

    code: str
    name: str
    modality: Modality
    body_part: str
    subspecialty: Subspecialty
    wrvu: float
    read_minutes: int
    scan_minutes: int
    prep: str | None
    template: str


P = CatalogProcedure

# The department's procedures, as the seed writes them into the live department's tables.
PROCEDURES: tuple[CatalogProcedure, ...] = (
    P("CTHEAD", "CT head without contrast", M.CT, "HEAD", S.NEURO, 0.85, 8, 15, None, "CT"),
    P(
        "CTHEADSTROKE",
        "CT head stroke protocol with CTA",
        M.CT,
        "HEAD",
        S.NEURO,
        1.75,
        15,
        20,
        "CONTRAST",
        "CT",
    ),
    P(
        "CTCHEST",
        "CT chest with contrast",
        M.CT,
        "CHEST",
        S.CHEST,
        1.16,
        12,
        15,
        "CONTRAST",
        "CT_CHEST",
    ),
    P("CTPE", "CT pulmonary angiogram", M.CT, "CHEST", S.CHEST, 1.82, 15, 15, "CONTRAST", "CT"),
    P(
        "CTAP",
        "CT abdomen and pelvis with contrast",
        M.CT,
        "ABDOMEN",
        S.BODY,
        1.8,
        18,
        20,
        "CONTRAST",
        "CT",
    ),
    P(
        "CTSPINEC",
        "CT cervical spine without contrast",
        M.CT,
        "SPINE",
        S.NEURO,
        1.0,
        10,
        15,
        None,
        "CT",
    ),
    P("CTKNEE", "CT knee without contrast", M.CT, "KNEE", S.MSK, 1.0, 10, 15, None, "CT"),
    P(
        "MRBRAIN",
        "MRI brain with and without contrast",
        M.MR,
        "HEAD",
        S.NEURO,
        2.3,
        25,
        45,
        "MRI_SAFETY",
        "MR",
    ),
    P(
        "MRSPINEL",
        "MRI lumbar spine without contrast",
        M.MR,
        "SPINE",
        S.NEURO,
        1.48,
        20,
        30,
        "MRI_SAFETY",
        "MR",
    ),
    P("MRKNEE", "MRI knee without contrast", M.MR, "KNEE", S.MSK, 1.35, 18, 30, "MRI_SAFETY", "MR"),
    P(
        "MRSHOULDER",
        "MRI shoulder without contrast",
        M.MR,
        "SHOULDER",
        S.MSK,
        1.35,
        18,
        30,
        "MRI_SAFETY",
        "MR",
    ),
    P(
        "MRLIVER",
        "MRI liver with and without contrast",
        M.MR,
        "ABDOMEN",
        S.BODY,
        2.2,
        25,
        45,
        "MRI_SAFETY",
        "MR_LIVER",
    ),
    P(
        "MRCARDIAC",
        "Cardiac MRI with contrast",
        M.MR,
        "HEART",
        S.CARDIAC,
        2.6,
        35,
        60,
        "MRI_SAFETY",
        "MR",
    ),
    P(
        "MRBREAST",
        "MRI breast bilateral with contrast",
        M.MR,
        "BREAST",
        S.BREAST,
        2.1,
        25,
        45,
        "MRI_SAFETY",
        "MR_BREAST",
    ),
    P("USABD", "Ultrasound abdomen complete", M.US, "ABDOMEN", S.BODY, 0.8, 8, 30, "FASTING", "US"),
    P(
        "USPELVIS",
        "Ultrasound pelvis transabdominal",
        M.US,
        "PELVIS",
        S.BODY,
        0.69,
        8,
        30,
        None,
        "US",
    ),
    P("USTHYROID", "Ultrasound thyroid", M.US, "NECK", S.BODY, 0.56, 7, 20, None, "US"),
    P(
        "USDVT",
        "Ultrasound venous duplex lower extremity",
        M.US,
        "LEG",
        S.BODY,
        0.7,
        7,
        30,
        None,
        "US",
    ),
    P(
        "USBREAST",
        "Ultrasound breast unilateral",
        M.US,
        "BREAST",
        S.BREAST,
        0.73,
        8,
        20,
        None,
        "US_BREAST",
    ),
    P("USPEDHIP", "Ultrasound infant hips", M.US, "HIP", S.PEDIATRIC, 0.62, 8, 20, None, "US"),
    P("XRCHEST2V", "X-ray chest 2 views", M.XR, "CHEST", S.CHEST, 0.2, 3, 10, None, "XR"),
    P(
        "XRCHEST1V",
        "X-ray chest 1 view (portable)",
        M.XR,
        "CHEST",
        S.CHEST,
        0.18,
        3,
        10,
        None,
        "XR",
    ),
    P("XRKNEE", "X-ray knee 3 views", M.XR, "KNEE", S.MSK, 0.18, 3, 10, None, "XR"),
    P("XRWRIST", "X-ray wrist 3 views", M.XR, "WRIST", S.MSK, 0.17, 3, 10, None, "XR"),
    P("XRSPINEL", "X-ray lumbar spine 2-3 views", M.XR, "SPINE", S.MSK, 0.22, 4, 10, None, "XR"),
    P(
        "XRPEDCHEST",
        "X-ray chest pediatric 2 views",
        M.XR,
        "CHEST",
        S.PEDIATRIC,
        0.2,
        4,
        10,
        None,
        "XR",
    ),
    P(
        "MGSCREEN",
        "Screening mammogram bilateral with tomosynthesis",
        M.MG,
        "BREAST",
        S.BREAST,
        0.75,
        6,
        20,
        None,
        "MG",
    ),
    P(
        "MGDIAG",
        "Diagnostic mammogram unilateral",
        M.MG,
        "BREAST",
        S.BREAST,
        0.81,
        8,
        30,
        None,
        "MG",
    ),
    P(
        "NMBONE",
        "Bone scan whole body",
        M.NM,
        "WHOLEBODY",
        S.NUCLEAR,
        0.86,
        12,
        60,
        "NUCLEAR_PREP",
        "NM",
    ),
    P(
        "NMPETCT",
        "PET/CT skull base to mid-thigh",
        M.NM,
        "WHOLEBODY",
        S.NUCLEAR,
        2.4,
        30,
        90,
        "PET_PREP",
        "NM",
    ),
    P(
        "NMTHYROID",
        "Thyroid uptake and scan",
        M.NM,
        "NECK",
        S.NUCLEAR,
        0.75,
        10,
        45,
        "NUCLEAR_PREP",
        "NM",
    ),
)

PR, PC = Priority, PatientClass
# Minutes from a study's availability to its report, per priority and patient class; every
# procedure has these targets (the seed writes one row per procedure and pair).
TURNAROUND_MINUTES: Mapping[tuple[Priority, PatientClass], int] = MappingProxyType(
    {
        (PR.STAT, PC.ED): 30,
        (PR.STAT, PC.INPATIENT): 60,
        (PR.STAT, PC.OUTPATIENT): 60,
        (PR.URGENT, PC.ED): 60,
        (PR.URGENT, PC.INPATIENT): 240,
        (PR.URGENT, PC.OUTPATIENT): 480,
        (PR.ROUTINE, PC.ED): 120,
        (PR.ROUTINE, PC.INPATIENT): 1440,
        (PR.ROUTINE, PC.OUTPATIENT): 4320,
    }
)

PREP_PROTOCOLS: dict[str, tuple[str, str, list[tuple[str, str]]]] = {
    "MRI_SAFETY": (
        "MRI safety screening",
        "Remove all metal objects. Tell us about implants, pacemakers or pregnancy.",
        [
            ("SCREENING_FORM", "MRI safety questionnaire reviewed"),
            ("IMPLANT_CHECK", "Implants and devices checked for MR conditionality"),
            ("METAL_REMOVED", "Metal objects removed"),
        ],
    ),
    "CONTRAST": (
        "Iodinated contrast screening",
        "Drink water before your visit. Tell us about allergies to contrast and kidney disease.",
        [
            ("ALLERGY_CHECK", "Contrast allergy history checked"),
            ("EGFR_CHECK", "Kidney function (eGFR) within 30 days reviewed"),
            ("PREGNANCY_CHECK", "Pregnancy status confirmed"),
        ],
    ),
    "FASTING": (
        "Fasting",
        "Do not eat or drink for 6 hours before the exam.",
        [("FASTING_CONFIRMED", "Fasting for 6 hours confirmed")],
    ),
    "NUCLEAR_PREP": (
        "Nuclear medicine preparation",
        "Stay hydrated. Tell us if you are pregnant or breastfeeding.",
        [
            ("PREGNANCY_CHECK", "Pregnancy and breastfeeding status confirmed"),
            ("HYDRATION", "Hydration instructions given"),
        ],
    ),
    "PET_PREP": (
        "PET preparation",
        "No food for 6 hours, no strenuous exercise for 24 hours before the scan.",
        [
            ("FASTING_CONFIRMED", "Fasting for 6 hours confirmed"),
            ("GLUCOSE_CHECK", "Blood glucose below 200 mg/dL"),
            ("PREGNANCY_CHECK", "Pregnancy status confirmed"),
        ],
    ),
}


Field = tuple[str, str, bool] | tuple[str, str, bool, CodeSystem]


def _section(key: str, title: str, *fields: Field) -> dict[str, object]:
    return {"key": key, "title": title, "fields": [field_document(*f) for f in fields]}


_COMMON = [
    _section(
        "clinical",
        "Clinical information",
        ("indication", "Indication", True),
        ("comparison", "Comparison", False),
    ),
    _section(
        "technique", "Technique", ("technique", "Technique", True), ("contrast", "Contrast", False)
    ),
]
_BIRADS: Field = ("birads", "BI-RADS assessment category", True, CodeSystem.BI_RADS)
# What each procedure is billed as when performed: its CPT code and the department's charge in
# cents (USD), as the seed writes them (HL7 DFT^P03).
CHARGES: dict[str, tuple[str, int]] = {
    "CTHEAD": ("70450", 82_500),
    "CTHEADSTROKE": ("70496", 214_000),
    "CTCHEST": ("71260", 131_000),
    "CTPE": ("71275", 168_000),
    "CTAP": ("74177", 189_500),
    "CTSPINEC": ("72125", 97_000),
    "CTKNEE": ("73700", 88_000),
    "MRBRAIN": ("70553", 264_000),
    "MRSPINEL": ("72148", 198_000),
    "MRKNEE": ("73721", 176_000),
    "MRSHOULDER": ("73221", 176_000),
    "MRLIVER": ("74183", 251_000),
    "MRCARDIAC": ("75561", 312_000),
    "MRBREAST": ("77049", 238_000),
    "USABD": ("76700", 54_000),
    "USPELVIS": ("76856", 47_500),
    "USTHYROID": ("76536", 41_000),
    "USDVT": ("93971", 63_000),
    "USBREAST": ("76641", 39_500),
    "USPEDHIP": ("76885", 45_000),
    "XRCHEST2V": ("71046", 18_500),
    "XRCHEST1V": ("71045", 14_500),
    "XRKNEE": ("73562", 16_000),
    "XRWRIST": ("73110", 15_500),
    "XRSPINEL": ("72100", 17_500),
    "XRPEDCHEST": ("71046", 18_500),
    "MGSCREEN": ("77067", 29_500),
    "MGDIAG": ("77065", 33_000),
    "NMBONE": ("78306", 121_000),
    "NMPETCT": ("78815", 465_000),
    "NMTHYROID": ("78014", 72_000),
}


# code, name, the fields of the findings section (after the common sections)
_TEMPLATES: list[tuple[str, str, list[Field]]] = [
    ("CT", "CT structured report", [("findings", "Findings", True)]),
    # Lung-RADS applies when the chest CT is a lung cancer screening study.
    (
        "CT_CHEST",
        "CT chest structured report",
        [
            ("findings", "Findings", True),
            ("lungrads", "Lung-RADS category (lung cancer screening)", False, CodeSystem.LUNG_RADS),
        ],
    ),
    (
        "MR",
        "MRI structured report",
        [("findings", "Findings", True), ("incidental", "Incidental findings", False)],
    ),
    (
        "MR_LIVER",
        "MRI liver report (LI-RADS)",
        [
            ("findings", "Findings", True),
            ("lirads", "LI-RADS category of the dominant observation", True, CodeSystem.LI_RADS),
        ],
    ),
    ("MR_BREAST", "MRI breast report (BI-RADS)", [("findings", "Findings", True), _BIRADS]),
    (
        "US",
        "Ultrasound structured report",
        [("findings", "Findings", True), ("measurements", "Measurements", False)],
    ),
    ("US_BREAST", "Breast ultrasound report (BI-RADS)", [("findings", "Findings", True), _BIRADS]),
    ("XR", "Radiograph report", [("findings", "Findings", True)]),
    (
        "MG",
        "Mammography report (BI-RADS)",
        [
            ("density", "Breast composition", True, CodeSystem.BREAST_DENSITY),
            ("findings", "Findings", True),
            _BIRADS,
        ],
    ),
    (
        "NM",
        "Nuclear medicine report",
        [("radiopharmaceutical", "Radiopharmaceutical", True), ("findings", "Findings", True)],
    ),
]
REPORT_TEMPLATES: dict[str, tuple[str, list[dict[str, object]]]] = {
    code: (name, [*_COMMON, _section("findings", "Findings", *findings)])
    for code, name, findings in _TEMPLATES
}
