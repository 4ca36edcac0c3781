"""A small department in memory (domain/fakes.py): the services run on it without a database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import pytest

from domain.enums import ExamStatus, Modality, PatientClass, Priority, Role, Subspecialty
from domain.fakes import FakeUnitOfWork
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
    Shift,
    Site,
    SitePrivilege,
)
from domain.types import pk

NOW = datetime(2030, 3, 4, 9, 0, tzinfo=UTC)  # a Monday morning
SCHEDULER = Actor("desk.lee", Role.SCHEDULER)
SUPERVISOR = Actor("sup.ortiz", Role.SUPERVISOR)
TECH = Actor("tech.kim", Role.TECHNOLOGIST, sites=frozenset({"MAIN"}))
REFERRER = Actor("REF01", Role.REFERRER)
READER = Actor("RAD01", Role.RADIOLOGIST)


@dataclass
class Department:
    """The fake unit of work and the rows the tests name."""

    uow: FakeUnitOfWork
    site: Site
    procedure: Procedure
    scanner: ModalityResource
    patient: Patient
    referrer: Referrer
    reader: Radiologist

    def exam(self, status: ExamStatus, *, priority: Priority = Priority.ROUTINE) -> Exam:
        """An exam already in `status` (as earlier commands left it)."""
        exam = Exam(
            accession_number=f"RF{len(self.uow.rows.all(Exam)) + 1:012d}",
            order_source="HIS",
            placer_order_number=f"P{len(self.uow.rows.all(Exam)) + 1}",
            placer_scope="",
            patient_id=pk(self.patient),
            referrer_id=pk(self.referrer),
            procedure_id=pk(self.procedure),
            site_id=pk(self.site),
            priority=priority,
            patient_class=PatientClass.OUTPATIENT,
            indication="Cough",
            icd10_code="R05",
            status=status,
            ordered_at=NOW - timedelta(hours=2),
            status_changed_at=NOW - timedelta(hours=1),
        )
        self.uow.seed(exam)
        return exam


@pytest.fixture
def department() -> Department:
    uow = FakeUnitOfWork(now=NOW)
    site = Site(code="MAIN", name="Main hospital", timezone="UTC")
    protocol = PrepProtocol(code="CT_CONTRAST", name="Contrast", patient_instructions="Fast.")
    uow.seed(site, protocol)
    procedure = Procedure(
        code="CTCHEST",
        name="CT chest",
        modality=Modality.CT,
        body_part="CHEST",
        subspecialty=Subspecialty.CHEST,
        wrvu=1.0,
        read_minutes=10,
        scan_minutes=15,
        prep_protocol_id=pk(protocol),
    )
    scanner = ModalityResource(
        code="CT1", name="CT 1", modality=Modality.CT, site_id=pk(site), slot_minutes=15
    )
    patient = Patient(
        mrn="MRN000001", given_name="Ada", family_name="Byron", birth_date=date(1980, 1, 1), sex="F"
    )
    referrer = Referrer(code="REF01", name="Dr Referrer")
    reader = Radiologist(code="RAD01", name="Dr Reader", wrvu_per_hour=10.0)
    uow.seed(procedure, scanner, patient, referrer, reader)
    uow.seed(
        *[
            PrepProtocolItem(protocol_id=pk(protocol), position=n, code=code, description=code)
            for n, code in enumerate(["ALLERGY_CHECK", "EGFR_CHECK"])
        ],
        *[
            OpeningHours(resource_id=pk(scanner), weekday=day, opens=time(0), closes=time(0))
            for day in range(7)
        ],
        RadiologistSubspecialty(radiologist_id=pk(reader), subspecialty=Subspecialty.CHEST),
        SitePrivilege(radiologist_id=pk(reader), site_id=pk(site)),
        Shift(
            radiologist_id=pk(reader),
            site_id=pk(site),
            starts_at=NOW - timedelta(hours=1),
            ends_at=NOW + timedelta(hours=7),
        ),
    )
    return Department(uow, site, procedure, scanner, patient, referrer, reader)
