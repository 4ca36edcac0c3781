"""When studies become ready to read, per patient class, and what a rule could see of each.

Each class has its own hour-of-day profile, because the urgent work and the elective work peak
at different times: outpatient studies are acquired in opening hours with a morning peak;
inpatient work clusters after the early-morning portable radiographs and the morning rounds;
the emergency department, which sends most STAT and URGENT work, is quiet before dawn and
busiest from late morning into the evening, when the day shift has gone home.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta

from balancer.model import Study
from balancer.simulation.catalog import (
    CLASS_SHARE,
    CLASSES,
    PRIORITY_SHARE,
    ProcedureSpec,
)
from balancer.simulation.department import EPOCH, SITES, pick_procedure, study_of
from balancer.simulation.info import StudyInfo
from domain.enums import Modality, PatientClass, Priority, Subspecialty

# Relative arrivals per hour of day (0-23), per patient class.
# fmt: off
HOURLY: dict[PatientClass, tuple[float, ...]] = {
    PatientClass.ED: (
        0.70, 0.60, 0.50, 0.45, 0.40, 0.40, 0.50, 0.70, 0.90, 1.10, 1.25, 1.35,
        1.40, 1.45, 1.50, 1.55, 1.60, 1.60, 1.55, 1.50, 1.40, 1.20, 1.00, 0.85,
    ),
    PatientClass.INPATIENT: (
        0.50, 0.40, 0.40, 0.50, 0.90, 1.40, 1.60, 1.50, 1.50, 1.50, 1.40, 1.30,
        1.20, 1.20, 1.10, 1.10, 1.00, 0.90, 0.80, 0.70, 0.60, 0.60, 0.50, 0.50,
    ),
    PatientClass.OUTPATIENT: (
        0.00, 0.00, 0.00, 0.00, 0.00, 0.00, 0.00, 0.60, 1.20, 1.50, 1.50, 1.30,
        1.00, 1.20, 1.40, 1.30, 1.10, 0.80, 0.60, 0.30, 0.00, 0.00, 0.00, 0.00,
    ),
}
# fmt: on
# Radiography dominates a department's volume: other modalities are thinned by this factor.
XR_BOOST = 2.5
# ED and inpatient studies are acquired at the hospitals; outpatient ones at every site.
HOSPITAL_SITES = (1, 2)
SITE_CODES = {1: "MAIN", 2: "SOUTH", 3: "NORTH", 4: "EAST"}
# Referrer codes (as in the demo department's seed data).
ED_REFERRER, WARD_REFERRER, ORTHO_REFERRER, ONCOLOGY_REFERRER = "REF01", "REF02", "REF03", "REF04"
FAMILY_REFERRER, PEDIATRIC_REFERRER = "REF05", "REF06"
# Share of children among patients of each class (the rest are adults 18-95).
CHILD_SHARE = {PatientClass.ED: 0.12, PatientClass.INPATIENT: 0.06, PatientClass.OUTPATIENT: 0.05}


@dataclass(frozen=True, slots=True)
class Arrival:
    """One study of the day before ids are given out (ids follow ready order)."""

    minute: float
    proc: ProcedureSpec
    cls: PatientClass
    priority: Priority
    site_id: int


def draw_arrivals(rng: random.Random, n: int) -> list[Arrival]:
    """`n` studies over 24 hours, sorted by ready minute, drawn from the department's mix."""
    out: list[Arrival] = []
    for _ in range(n):
        while True:
            cls = rng.choices(CLASSES, weights=[CLASS_SHARE[c] for c in CLASSES])[0]
            proc = pick_procedure(rng, cls)
            if proc.modality is Modality.XR or rng.random() < 1 / XR_BOOST:
                break
        shares = PRIORITY_SHARE[cls]
        prio = rng.choices(list(shares), weights=list(shares.values()))[0]
        hour = rng.choices(range(24), weights=HOURLY[cls])[0]
        minute = hour * 60 + rng.random() * 60
        site = rng.choice(SITES if cls is PatientClass.OUTPATIENT else HOSPITAL_SITES)
        out.append(Arrival(minute, proc, cls, prio, site))
    out.sort(key=lambda a: a.minute)
    return out


def to_study(sid: int, a: Arrival) -> Study:
    """The balancer's view of an arrival."""
    return study_of(sid, a.proc, a.cls, a.priority, a.site_id, EPOCH + timedelta(minutes=a.minute))


def describe(rng: random.Random, study: Study, a: Arrival) -> StudyInfo:
    """The rule-visible facts of one study: a patient age, a referrer, the site's code."""
    child = a.proc.subspecialty is Subspecialty.PEDIATRIC or rng.random() < CHILD_SHARE[a.cls]
    if child:
        age = min(15, int(rng.expovariate(1 / 6.0)))
    else:
        age = min(95, 18 + int(rng.betavariate(2.2, 1.6) * 78))
    if child:
        referrer = PEDIATRIC_REFERRER
    elif a.cls is PatientClass.ED:
        referrer = ED_REFERRER
    elif a.proc.subspecialty is Subspecialty.MSK:
        referrer = ORTHO_REFERRER
    elif a.proc.subspecialty is Subspecialty.NUCLEAR:
        referrer = ONCOLOGY_REFERRER
    elif a.cls is PatientClass.INPATIENT:
        referrer = WARD_REFERRER
    else:
        referrer = rng.choice((FAMILY_REFERRER, WARD_REFERRER, ONCOLOGY_REFERRER))
    return StudyInfo(
        procedure_code=a.proc.code,
        modality=a.proc.modality,
        body_part=a.proc.body_part,
        subspecialty=study.subspecialty,
        priority=study.priority,
        patient_class=study.patient_class,
        site_code=SITE_CODES[study.site_id],
        referrer=referrer,
        patient_age=age,
        wrvu=study.wrvu,
        ready_at=study.ready_at,
        due_at=study.due_at,
    )
