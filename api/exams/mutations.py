"""Stage 1 mutations: placing orders and registering patients."""

from __future__ import annotations

from typing import Annotated

import strawberry

from api.context import Info
from api.errors import NotFound, ValidationFailed, attempt
from api.exams.inputs import PlaceOrderInput, RegisterPatientInput
from api.exams.types import Exam
from api.people.types import Patient
from domain.db import UnitOfWork
from domain.services import orders


@strawberry.type(description="The order's exam; `created` is false for a re-sent order.")
class OrderPlaced:
    exam: Exam
    created: bool


@strawberry.type
class PatientRegistered:
    patient: Patient


PlaceOrderResult = Annotated[
    OrderPlaced | NotFound | ValidationFailed, strawberry.union("PlaceOrderResult")
]
RegisterPatientResult = Annotated[
    PatientRegistered | ValidationFailed, strawberry.union("RegisterPatientResult")
]


@strawberry.type
class OrderMutations:
    @strawberry.mutation(
        description="Place an order; idempotent on (orderSource, placerOrderNumber)."
    )
    async def place_order(self, info: Info, input: PlaceOrderInput) -> PlaceOrderResult:
        actor = info.context.actor

        async def run() -> OrderPlaced:
            placed = await info.context.commands.run(
                "placeOrder",
                lambda uow: orders.place_order(
                    uow=uow,
                    actor=actor,
                    order_source=input.order_source,
                    placer_order_number=input.placer_order_number,
                    patient_mrn=input.patient_mrn,
                    referrer_code=input.referrer_code,
                    procedure_code=input.procedure_code,
                    site_code=input.site_code,
                    priority=input.priority,
                    patient_class=input.patient_class,
                    indication=input.indication,
                    icd10_code=input.icd10_code,
                ),
            )
            return OrderPlaced(exam=Exam.from_model(placed.exam), created=placed.created)

        return await attempt(run, errors=NotFound | ValidationFailed)

    @strawberry.mutation(description="Register a patient or update their demographics.")
    async def register_patient(
        self, info: Info, input: RegisterPatientInput
    ) -> RegisterPatientResult:
        async def run() -> PatientRegistered:
            def command(uow: UnitOfWork) -> Patient:
                return Patient.from_model(
                    orders.register_patient(
                        uow=uow,
                        actor=info.context.actor,
                        mrn=input.mrn,
                        given_name=input.given_name,
                        family_name=input.family_name,
                        birth_date=input.birth_date,
                        sex=input.sex,
                        phone=input.phone,
                        email=input.email,
                    )
                )

            return PatientRegistered(
                patient=await info.context.commands.run("registerPatient", command)
            )

        return await attempt(run, errors=ValidationFailed)
