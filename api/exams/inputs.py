"""Inputs of the order and of exam queries."""

from __future__ import annotations

from datetime import date, datetime
from enum import Enum

import strawberry

from api.enums import ExamStatus, Modality, PatientClass, Priority

VERSION_HELP = "The exam version you last saw; a newer one fails with Conflict."


@strawberry.input(description="A step on one exam that needs nothing but the exam.")
class ExamInput:
    exam_id: strawberry.ID
    expected_version: int | None = strawberry.field(default=None, description=VERSION_HELP)


@strawberry.input(description="A new order from a placer system (EHR, order entry).")
class PlaceOrderInput:
    order_source: str = strawberry.field(description="The placer system, e.g. EPIC.")
    placer_order_number: str = strawberry.field(
        description="The placer's order number; unique per source, so a re-sent order is "
        "recognised and returns the existing exam."
    )
    patient_mrn: str
    referrer_code: str | None = strawberry.field(
        default=None,
        description="The ordering referrer. A referrer orders as themselves: leave it out (or "
        "send your own code). Schedulers, integrations and admins order on a "
        "referrer's behalf and must name them.",
    )
    procedure_code: str
    site_code: str
    priority: Priority
    patient_class: PatientClass
    indication: str = strawberry.field(description="Clinical indication, free text.")
    icd10_code: str = strawberry.field(description="ICD-10 code of the indication, e.g. R51.")


@strawberry.input(description="Register a patient (or update the one with this MRN).")
class RegisterPatientInput:
    mrn: str
    given_name: str
    family_name: str
    birth_date: date
    sex: str = strawberry.field(description="F, M, O or U.")
    phone: str | None = None
    email: str | None = None


@strawberry.input(description="Which exams to list; every given criterion must match.")
class ExamFilter:
    status: list[ExamStatus] | None = None
    priority: list[Priority] | None = None
    modality: list[Modality] | None = None
    site_code: str | None = None
    patient_mrn: str | None = None
    ordered_from: datetime | None = strawberry.field(
        default=None, description="Inclusive lower bound."
    )
    ordered_to: datetime | None = strawberry.field(
        default=None, description="Exclusive upper bound."
    )


@strawberry.enum(description="Order of an exam list.")
class ExamOrder(Enum):
    ORDERED_AT_DESC = "ORDERED_AT_DESC"
    ORDERED_AT_ASC = "ORDERED_AT_ASC"
