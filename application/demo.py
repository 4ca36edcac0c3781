"""The demo department: two sites, six scanners, ~30 procedures, 12 radiologists and ~200
exams driven through the real services, so every exam has a true history."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import col

from domain.catalog_data import (
    CHARGES,
    PREP_PROTOCOLS,
    PROCEDURES,
    REPORT_TEMPLATES,
    TURNAROUND_MINUTES,
)
from domain.db import Database, UnitOfWork
from domain.enums import (
    CriticalLevel,
    ExamStatus,
    IntervalUnit,
    Modality,
    PatientClass,
    Priority,
    RadiologistStatus,
    RepeatReason,
    Respondent,
    Role,
    Subspecialty,
)
from domain.errors import DomainError
from domain.lifecycle import Actor
from domain.models import (
    Exam,
    ModalityResource,
    OpeningHours,
    Patient,
    PrepProtocol,
    PrepProtocolItem,
    Procedure,
    Radiologist,
    RadiologistSubspecialty,
    Referrer,
    ReportTemplate,
    Shift,
    Site,
    SitePrivilege,
    TurnaroundTarget,
)
from domain.reporting import CodeSystem, parse_sections
from domain.services import (
    acquisition,
    follow_ups,
    orders,
    reading,
    results,
    scheduling,
    worklists,
)
from domain.types import pk, utcnow

Sub = Subspecialty
SYSTEM = Actor("seed", Role.SYSTEM)
SCHEDULER = Actor("frontdesk", Role.SCHEDULER)
# Orders reach the department from the hospital's order system, naming their referrer.
EHR_INTERFACE = Actor("epic.interface", Role.INTEGRATION)
TECH = Actor("tech.lee", Role.TECHNOLOGIST)
SUPERVISOR = Actor("sup.ortiz", Role.SUPERVISOR)

SITES = [("MAIN", "Riverside General Hospital"), ("NORTH", "Northside Imaging Center")]
# One user per role in the demo department: (role, subject, sites). Subjects are the people the
# seed creates (a referrer's code, a patient's MRN, a radiologist's code) or staff user ids;
# `radflow token --role R` mints a token for the demo user of role R (README: "Try it as ...").
DEMO_USERS: dict[Role, tuple[str, tuple[str, ...]]] = {
    Role.REFERRER: ("REF01", ()),
    Role.SCHEDULER: ("frontdesk", ()),
    Role.PATIENT: ("MRN000001", ()),
    Role.TECHNOLOGIST: ("tech.lee", ("MAIN",)),
    Role.RADIOLOGIST: ("RAD01", ()),
    Role.SUPERVISOR: ("sup.ortiz", ()),
    Role.INTEGRATION: ("ris.bridge", ()),
    Role.ADMIN: ("admin", ()),
}
RESOURCES = [  # code, name, modality, site, opening hours per weekday or None for 24/7
    ("CT1", "CT scanner 1 (ED)", Modality.CT, "MAIN", None),
    ("MR1", "MRI 3T", Modality.MR, "MAIN", (time(7), time(21), range(7))),
    ("US1", "Ultrasound room 1", Modality.US, "NORTH", (time(8), time(18), range(5))),
    ("XR1", "Digital radiography room", Modality.XR, "MAIN", None),
    ("MG1", "Mammography with tomosynthesis", Modality.MG, "NORTH", (time(8), time(17), range(5))),
    ("NM1", "SPECT/CT and PET/CT", Modality.NM, "MAIN", (time(7), time(19), range(6))),
]
# Each scanner's DICOM AE title (its worklist queries and procedure steps name it).
AE_TITLES = {
    "CT1": "MAIN_CT1",
    "MR1": "MAIN_MR1",
    "US1": "NORTH_US1",
    "XR1": "MAIN_XR1",
    "MG1": "NORTH_MG1",
    "NM1": "MAIN_NM1",
}
RADIOLOGISTS: list[tuple[str, str, float, list[Subspecialty], list[str]]] = [
    ("RAD01", "Dr. Amara Okafor", 9.0, [Sub.NEURO, Sub.GENERAL], ["MAIN", "NORTH"]),
    ("RAD02", "Dr. Henrik Larsen", 8.0, [Sub.NEURO], ["MAIN"]),
    ("RAD03", "Dr. Mei Tanaka", 10.0, [Sub.BODY, Sub.GENERAL], ["MAIN", "NORTH"]),
    ("RAD04", "Dr. Carlos Mendes", 9.5, [Sub.BODY, Sub.CHEST], ["MAIN"]),
    ("RAD05", "Dr. Priya Raman", 8.5, [Sub.CHEST, Sub.GENERAL], ["MAIN", "NORTH"]),
    ("RAD06", "Dr. Olivia Brandt", 7.5, [Sub.BREAST], ["NORTH"]),
    ("RAD07", "Dr. Samuel Adeyemi", 8.0, [Sub.BREAST, Sub.BODY], ["NORTH", "MAIN"]),
    ("RAD08", "Dr. Lucia Romano", 9.0, [Sub.MSK, Sub.GENERAL], ["MAIN", "NORTH"]),
    ("RAD09", "Dr. Ethan Walsh", 8.0, [Sub.PEDIATRIC, Sub.CHEST], ["MAIN"]),
    ("RAD10", "Dr. Nadia Haddad", 7.0, [Sub.NUCLEAR, Sub.BODY], ["MAIN"]),
    ("RAD11", "Dr. Kofi Mensah", 9.0, [Sub.CARDIAC, Sub.CHEST], ["MAIN"]),
    ("RAD12", "Dr. Sofia Petrov", 11.0, [Sub.MSK, Sub.PEDIATRIC, Sub.GENERAL], ["MAIN", "NORTH"]),
]
REFERRERS = [
    ("REF01", "Dr. Grace Kim (Emergency)"),
    ("REF02", "Dr. Omar Farouk (Internal Med)"),
    ("REF03", "Dr. Julia Novak (Orthopedics)"),
    ("REF04", "Dr. Ben Carter (Oncology)"),
    ("REF05", "Dr. Ana Lima (Family Practice)"),
    ("REF06", "Dr. Yuki Sato (Pediatrics)"),
]
GIVEN = [
    "Ada",
    "Ben",
    "Chloe",
    "Dev",
    "Elena",
    "Farid",
    "Gita",
    "Hugo",
    "Ines",
    "Jonah",
    "Kira",
    "Liam",
    "Maya",
    "Noor",
    "Oscar",
    "Pia",
    "Quinn",
    "Rosa",
    "Sami",
    "Tara",
]
FAMILY = [
    "Nguyen",
    "Smith",
    "Garcia",
    "Ivanova",
    "Okoye",
    "Müller",
    "Rossi",
    "Khan",
    "Silva",
    "Cohen",
    "Dubois",
    "Haddad",
    "Jensen",
    "Kowalski",
    "Lopez",
    "Moreau",
]
TARGETS: dict[ExamStatus, int] = {
    ExamStatus.CLOSED: 40,
    ExamStatus.COMMUNICATED: 15,
    ExamStatus.FINAL: 10,
    ExamStatus.PRELIMINARY: 5,
    ExamStatus.IN_INTERPRETATION: 8,
    ExamStatus.READY_FOR_READ: 30,
    ExamStatus.METADATA_REJECTED: 4,
    ExamStatus.ACQUIRED: 6,
    ExamStatus.IN_ACQUISITION: 5,
    ExamStatus.PREPARED: 5,
    ExamStatus.CHECKED_IN: 8,
    ExamStatus.SCHEDULED: 30,
    ExamStatus.ORDERED: 20,
    ExamStatus.CANCELLED: 8,
    ExamStatus.NO_SHOW: 6,
}
ORDER = [
    ExamStatus.ORDERED,
    ExamStatus.SCHEDULED,
    ExamStatus.CHECKED_IN,
    ExamStatus.PREPARED,
    ExamStatus.IN_ACQUISITION,
    ExamStatus.ACQUIRED,
    ExamStatus.READY_FOR_READ,
    ExamStatus.IN_INTERPRETATION,
    ExamStatus.PRELIMINARY,
    ExamStatus.FINAL,
    ExamStatus.COMMUNICATED,
    ExamStatus.CLOSED,
]


def seed_reference(uow: UnitOfWork, *, patients: int = 120) -> None:
    """Sites, scanners, catalog, radiologists, referrers and patients."""
    s, rng = uow.session, random.Random(7)
    sites = {code: Site(code=code, name=name, timezone="America/New_York") for code, name in SITES}
    s.add_all(sites.values())
    s.flush()
    for code, name, modality, site, hours in RESOURCES:
        resource = ModalityResource(
            code=code,
            name=name,
            modality=modality,
            site_id=pk(sites[site]),
            slot_minutes=15,
            ae_title=AE_TITLES[code],
        )
        s.add(resource)
        s.flush()
        opens, closes, days = hours or (time(0), time(0), range(7))  # 24/7
        s.add_all(
            OpeningHours(resource_id=pk(resource), weekday=d, opens=opens, closes=closes)
            for d in days
        )
    protocols = {}
    for code, (name, instructions, items) in PREP_PROTOCOLS.items():
        protocols[code] = PrepProtocol(code=code, name=name, patient_instructions=instructions)
        s.add(protocols[code])
        s.flush()
        s.add_all(
            PrepProtocolItem(protocol_id=pk(protocols[code]), position=i, code=c, description=d)
            for i, (c, d) in enumerate(items, 1)
        )
    templates = {
        code: ReportTemplate(code=code, name=name, sections=sections)
        for code, (name, sections) in REPORT_TEMPLATES.items()
    }
    s.add_all(templates.values())
    s.flush()
    for code, name, modality, body, sub, wrvu, read_min, scan_min, prep, tmpl in PROCEDURES:
        procedure = Procedure(
            code=code,
            name=name,
            modality=modality,
            body_part=body,
            subspecialty=sub,
            wrvu=wrvu,
            read_minutes=read_min,
            scan_minutes=scan_min,
            prep_protocol_id=protocols[prep].id if prep else None,
            report_template_id=templates[tmpl].id,
            cpt_code=CHARGES[code][0] if code in CHARGES else None,
            charge_cents=CHARGES[code][1] if code in CHARGES else None,
        )
        s.add(procedure)
        s.flush()
        s.add_all(
            TurnaroundTarget(
                procedure_id=pk(procedure),
                priority=Priority(p),
                patient_class=PatientClass(c),
                minutes=m,
            )
            for (p, c), m in TURNAROUND_MINUTES.items()
        )
    for code, name, rate, subs, privileges in RADIOLOGISTS:
        radiologist = Radiologist(
            code=code, name=name, wrvu_per_hour=rate, status=RadiologistStatus.OFF
        )
        s.add(radiologist)
        s.flush()
        s.add_all(
            RadiologistSubspecialty(radiologist_id=pk(radiologist), subspecialty=sub)
            for sub in subs
        )
        s.add_all(
            SitePrivilege(
                radiologist_id=pk(radiologist),
                site_id=pk(sites[p]),
                expires_on=date(uow.now.year + 2, 6, 30),
            )
            for p in privileges
        )
    s.add_all(
        Referrer(
            code=code,
            name=name,
            email=f"{code.lower()}@riverside.example",
            phone=f"+1555010{n:04d}",  # critical results call them
        )
        for n, (code, name) in enumerate(REFERRERS, start=1)
    )
    for i in range(1, patients + 1):
        s.add(
            Patient(
                mrn=f"MRN{i:06d}",
                given_name=rng.choice(GIVEN),
                family_name=rng.choice(FAMILY),
                birth_date=date(
                    1935 + rng.randrange(88), rng.randrange(1, 13), rng.randrange(1, 28)
                ),
                sex=rng.choice("FM"),
                phone=f"+1555{rng.randrange(10**6, 10**7)}",
            )
        )


class _Clock:
    def __init__(self, start: datetime) -> None:
        self.t = start

    def __call__(self) -> datetime:
        return self.t


class _Demo:
    """Drives one exam at a time through the real services on a simulated clock."""

    def __init__(self, db: Database, clock: _Clock, rng: random.Random, real_now: datetime):
        self.db, self.clock, self.rng, self.real_now = db, clock, rng, real_now

    async def do(self, fn: Callable[..., Any], **kwargs: Any) -> Any:
        self.clock.t += timedelta(minutes=self.rng.randint(3, 40))
        return await self.db.run(lambda uow: fn(uow=uow, **kwargs))

    async def book(self, exam_id: int, procedure_code: str, after: datetime) -> datetime:
        slots = await self.db.read(
            lambda s: scheduling.open_slots(
                s,
                procedure_code=procedure_code,
                start=after,
                end=after + timedelta(days=21),
                now=self.clock.t,
            )
        )
        slot = slots[self.rng.randrange(min(5, len(slots)))]
        await self.do(
            scheduling.schedule_exam,
            actor=SCHEDULER,
            exam_id=exam_id,
            resource_code=slot.resource_code,
            starts_at=slot.starts_at,
        )
        return slot.starts_at

    async def exam(
        self,
        n: int,
        target: ExamStatus,
        catalog: list[tuple[str, str, str, bool]],
        eligible: dict[tuple[str, str], list[str]],
    ) -> None:
        rng = self.rng
        choices = [c for c in catalog if c[3]] if target == ExamStatus.PREPARED else catalog
        code, modality, body_part, _prep = rng.choice(choices)
        fast = modality in {"CT", "XR"} and rng.random() < 0.5
        priority = (
            Priority.STAT
            if fast and rng.random() < 0.4
            else (Priority.URGENT if rng.random() < 0.2 else Priority.ROUTINE)
        )
        pclass = (
            PatientClass.ED
            if fast
            else rng.choice([PatientClass.INPATIENT, PatientClass.OUTPATIENT])
        )
        late = target in {ExamStatus.ORDERED, ExamStatus.SCHEDULED}
        self.clock.t = self.real_now - timedelta(
            hours=rng.uniform(1, 6) if late else rng.uniform(30, 24 * 7)
        )
        site = "NORTH" if modality in {"US", "MG"} else "MAIN"
        # A draw the demo made when orders were placed as a referrer, kept so the seeded
        # department (its readers, their stranded reads) stays the one the docs describe.
        rng.choice(REFERRERS)
        placed = await self.do(
            orders.place_order,
            actor=EHR_INTERFACE,
            order_source="EPIC",
            placer_order_number=f"ORD{n:06d}",
            patient_mrn=f"MRN{rng.randint(1, 120):06d}",
            referrer_code=rng.choice(REFERRERS)[0],
            procedure_code=code,
            site_code=site,
            priority=priority,
            patient_class=pclass,
            indication=rng.choice(
                [
                    "Headache, rule out bleed",
                    "Follow-up of known nodule",
                    "Trauma",
                    "Pain",
                    "Screening",
                    "Shortness of breath",
                ]
            ),
            icd10_code=rng.choice(["R51", "R91.1", "S06.5", "M25.561", "Z12.31", "R06.02"]),
        )
        exam_id = placed.exam.id
        if target == ExamStatus.ORDERED:
            return
        if fast and target not in {ExamStatus.SCHEDULED, ExamStatus.NO_SHOW, ExamStatus.CANCELLED}:
            await self.do(scheduling.check_in, actor=SCHEDULER, exam_id=exam_id)
        else:
            when = self.real_now + timedelta(hours=2) if late else self.clock.t + timedelta(hours=1)
            starts = await self.book(exam_id, code, when)
            if target == ExamStatus.SCHEDULED:
                return
            if target == ExamStatus.CANCELLED:
                await self.do(
                    scheduling.cancel_exam,
                    actor=SCHEDULER,
                    exam_id=exam_id,
                    reason=rng.choice(["Patient request", "Referrer withdrew order"]),
                )
                return
            self.clock.t = starts
            if target == ExamStatus.NO_SHOW:
                self.clock.t += timedelta(minutes=20)
                await self.do(
                    scheduling.mark_no_show,
                    actor=SCHEDULER,
                    exam_id=exam_id,
                    reason="Patient did not arrive",
                )
                return
            await self.do(scheduling.check_in, actor=SCHEDULER, exam_id=exam_id)
        if target == ExamStatus.CHECKED_IN:
            return
        items = await self.db.read(
            lambda s: list(
                s.scalars(
                    sa.text("SELECT code FROM exam_prep_items WHERE exam_id = :e").bindparams(
                        e=exam_id
                    )
                )
            )
        )
        for item in items:
            await self.do(
                acquisition.complete_prep_item, actor=TECH, exam_id=exam_id, item_code=item
            )
        if target == ExamStatus.PREPARED and items:
            return
        resource = {"CT": "CT1", "MR": "MR1", "US": "US1", "XR": "XR1", "MG": "MG1", "NM": "NM1"}[
            modality
        ]
        await self.do(
            acquisition.start_acquisition, actor=TECH, exam_id=exam_id, resource_code=resource
        )
        if target in {ExamStatus.IN_ACQUISITION, ExamStatus.PREPARED}:
            return
        await self.do(
            acquisition.complete_acquisition,
            actor=TECH,
            exam_id=exam_id,
            series_count=rng.randint(1, 8),
            image_count=rng.randint(40, 900),
        )
        if rng.random() < 0.08:
            await self.do(
                acquisition.request_repeat,
                actor=TECH,
                exam_id=exam_id,
                reason=rng.choice(list(RepeatReason)[:4]),
            )
            await self.do(
                acquisition.complete_acquisition,
                actor=TECH,
                exam_id=exam_id,
                series_count=3,
                image_count=300,
            )
        if target == ExamStatus.ACQUIRED:
            return
        exam: Exam = placed.exam
        patient_mrn = await self.db.read(
            lambda s: s.scalar(
                sa.text("SELECT mrn FROM patients WHERE id = :p").bindparams(p=exam.patient_id)
            )
        )
        header = acquisition.StudyHeader(
            accession_number=exam.accession_number,
            patient_mrn=patient_mrn,
            modality=Modality(modality),
            body_part=body_part,
            procedure_code=code,
        )
        if target == ExamStatus.METADATA_REJECTED:
            header = acquisition.StudyHeader(
                accession_number=exam.accession_number,
                patient_mrn="MRN999999",
                modality=Modality(modality),
                body_part=body_part,
                procedure_code=code,
            )
            await self.do(acquisition.validate_metadata, actor=TECH, exam_id=exam_id, header=header)
            return
        await self.do(acquisition.validate_metadata, actor=TECH, exam_id=exam_id, header=header)
        await self.do(
            acquisition.register_storage,
            actor=TECH,
            exam_id=exam_id,
            study_instance_uid=f"1.2.840.113619.2.55.3.{n}.{rng.randrange(10**9)}",
            archive_location=f"pacs://riverside/{exam.accession_number}",
        )
        if target == ExamStatus.READY_FOR_READ:
            return
        radiologist = rng.choice(eligible[(code, site)])
        await self.do(
            worklists.pin_assignment,
            actor=SUPERVISOR,
            exam_id=exam_id,
            radiologist_code=radiologist,
            reason="demo assignment",
        )
        reader = Actor(radiologist, Role.RADIOLOGIST)
        await self.do(reading.open_read, actor=reader, exam_id=exam_id)
        if target == ExamStatus.IN_INTERPRETATION:
            return
        critical = CriticalLevel.CRITICAL if rng.random() < 0.1 else CriticalLevel.NONE
        await self.do(
            reading.save_report_draft,
            actor=reader,
            exam_id=exam_id,
            sections=_report_sections(code),
            impression="No acute abnormality."
            if critical == CriticalLevel.NONE
            else "Acute finding, see above.",
            critical_level=critical,
        )
        if target == ExamStatus.PRELIMINARY:
            await self.do(reading.sign_preliminary, actor=reader, exam_id=exam_id)
            return
        await self.do(reading.sign_final, actor=reader, exam_id=exam_id)
        if target == ExamStatus.FINAL:
            return
        await self.do(results.notify_result, actor=reader, exam_id=exam_id)
        if target == ExamStatus.COMMUNICATED:
            return
        ordering = await self.db.read(
            lambda s: s.scalar(
                sa.text(
                    "SELECT r.code FROM referrers r JOIN exams e ON e.referrer_id = r.id "
                    "WHERE e.id = :e"
                ).bindparams(e=exam_id)
            )
        )
        await self.do(
            results.acknowledge_result, actor=Actor(ordering, Role.REFERRER), exam_id=exam_id
        )
        if rng.random() < 0.3:
            await self.do(
                follow_ups.record_follow_up,
                actor=reader,
                exam_id=exam_id,
                recommendation="Follow-up imaging in 3 months",
                procedure_code=code,  # the same modality and body region again
                interval=(3, IntervalUnit.MONTHS),
                reason="indeterminate finding: confirm stability",
            )
        if rng.random() < 0.5:
            await self.do(
                results.submit_survey,
                actor=Actor(ordering, Role.REFERRER),
                exam_id=exam_id,
                respondent=Respondent.REFERRER,
                score=rng.choice([3, 4, 4, 5, 5]),
            )
        await self.do(results.close_exam, actor=SUPERVISOR, exam_id=exam_id)


def _report_sections(procedure_code: str) -> dict[str, dict[str, str]]:
    template = next(t for c, *_rest, t in PROCEDURES if c == procedure_code)
    _, document = REPORT_TEMPLATES[template]
    return {
        section.key: {
            f.key: _NORMAL_CODES[f.code_system]
            if f.code_system is not None
            else f"{f.label}: unremarkable."
            for f in section.fields
        }
        for section in parse_sections(document)
    }


# What an unremarkable demo report says in each coded field.
_NORMAL_CODES = {
    CodeSystem.BI_RADS: "1",
    CodeSystem.BREAST_DENSITY: "B",
    CodeSystem.LUNG_RADS: "1",
    CodeSystem.LI_RADS: "LR-1",
}


# Today's roster: who is reading now, who is on a break; the rest are off.
ON_SHIFT = {
    "RAD01": "MAIN",
    "RAD02": "MAIN",
    "RAD03": "MAIN",
    "RAD04": "MAIN",
    "RAD05": "MAIN",
    "RAD06": "NORTH",
    "RAD07": "NORTH",
    "RAD08": "MAIN",
    "RAD09": "MAIN",
    "RAD12": "NORTH",
}
ON_BREAK = {"RAD09"}


def _backfill_shifts(uow: UnitOfWork, *, until: datetime) -> None:
    for radiologist in uow.session.scalars(sa.select(Radiologist)):
        uow.add(Shift(radiologist_id=pk(radiologist), site_id=1, starts_at=uow.now, ends_at=until))
        radiologist.status = RadiologistStatus.AVAILABLE


def _today(uow: UnitOfWork, now: datetime) -> None:
    for shift in uow.session.scalars(sa.select(Shift).where(col(Shift.ended_at).is_(None))):
        shift.ended_at = now
    for radiologist in uow.session.scalars(sa.select(Radiologist)):
        radiologist.status = RadiologistStatus.OFF
    uow.flush()
    for code, site in ON_SHIFT.items():
        worklists.start_shift(
            uow=uow,
            actor=SUPERVISOR,
            radiologist_code=code,
            site_code=site,
            ends_at=now + timedelta(hours=8),
        )
        if code in ON_BREAK:
            worklists.set_radiologist_status(
                uow=uow, actor=SUPERVISOR, radiologist_code=code, status=RadiologistStatus.ON_BREAK
            )


def _eligible(session: sa.orm.Session) -> dict[tuple[str, str], list[str]]:
    rows = session.execute(
        sa.text(
            "SELECT p.code, s.code, r.code FROM procedures p "
            "JOIN radiologist_subspecialties rs ON rs.subspecialty = p.subspecialty "
            "JOIN radiologists r ON r.id = rs.radiologist_id "
            "JOIN radiologist_site_privileges sp ON sp.radiologist_id = r.id "
            "JOIN sites s ON s.id = sp.site_id"
        )
    ).all()
    eligible: dict[tuple[str, str], list[str]] = {}
    for procedure, site, radiologist in rows:
        eligible.setdefault((procedure, site), []).append(radiologist)
    return eligible


async def seed_demo(url: str, *, seed: int = 42) -> int:
    """Seed the demo department into an empty database; returns how many exams were made."""
    real_now = utcnow().replace(microsecond=0)
    clock = _Clock(real_now - timedelta(days=8))
    db = Database(url, clock=clock)
    try:
        if await db.read(lambda s: s.scalar(sa.select(sa.func.count()).select_from(Site))):
            return 0
        await db.run(seed_reference)
        # The exams below span the past week: every reader works through it (one long
        # back-filled shift each), and today's roster starts once they are done.
        await db.run(lambda uow: _backfill_shifts(uow, until=real_now))
        catalog = [
            (c, m.value, b, prep is not None) for c, _, m, b, _s, _w, _r, _m, prep, _t in PROCEDURES
        ]
        eligible = await db.read(_eligible)
        # Keep only procedures that somebody may read at the site where they are done.
        catalog = [
            c for c in catalog if eligible.get((c[0], "NORTH" if c[1] in {"US", "MG"} else "MAIN"))
        ]
        demo = _Demo(db, clock, random.Random(seed), real_now)
        targets = [status for status, count in TARGETS.items() for _ in range(count)]
        made = 0
        for n, target in enumerate(targets, 1):
            try:
                await demo.exam(n, target, catalog, eligible)
                made += 1
            except DomainError as exc:  # a rare slot clash in the demo is skipped, not fatal
                print(f"seed: exam {n} ({target}) skipped: {exc.message}")
        clock.t = real_now
        await db.run(lambda uow: _today(uow, real_now))
        return made
    finally:
        await db.dispose()
