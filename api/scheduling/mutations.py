"""Stage 2 mutations: booking, confirming, moving, cancelling, no-shows, arrivals."""

from __future__ import annotations

from typing import Annotated

import strawberry

from api.commands import exam_step
from api.context import Info
from api.errors import (
    Conflict,
    InvalidTransition,
    NotFound,
    PreconditionFailed,
    SlotTaken,
    ValidationFailed,
)
from api.exams.inputs import ExamInput
from api.exams.types import Appointment, Exam
from api.scheduling.inputs import (
    CancelExamInput,
    MarkNoShowInput,
    RescheduleExamInput,
    ScheduleExamInput,
)
from domain.services import scheduling


@strawberry.type
class ExamScheduled:
    exam: Exam
    appointment: Appointment


@strawberry.type
class ExamRescheduled:
    exam: Exam
    appointment: Appointment


@strawberry.type
class AppointmentConfirmed:
    exam: Exam
    appointment: Appointment


@strawberry.type
class ExamCancelled:
    exam: Exam


@strawberry.type
class NoShowRecorded:
    exam: Exam


@strawberry.type
class PatientCheckedIn:
    exam: Exam


Failures = NotFound | InvalidTransition | PreconditionFailed | ValidationFailed | Conflict
ScheduleExamResult = Annotated[
    ExamScheduled | SlotTaken | Failures, strawberry.union("ScheduleExamResult")
]
RescheduleExamResult = Annotated[
    ExamRescheduled | SlotTaken | Failures, strawberry.union("RescheduleExamResult")
]
ConfirmAppointmentResult = Annotated[
    AppointmentConfirmed | Failures, strawberry.union("ConfirmAppointmentResult")
]
CancelExamResult = Annotated[ExamCancelled | Failures, strawberry.union("CancelExamResult")]
MarkNoShowResult = Annotated[NoShowRecorded | Failures, strawberry.union("MarkNoShowResult")]
CheckInResult = Annotated[PatientCheckedIn | Failures, strawberry.union("CheckInResult")]


@strawberry.type
class SchedulingMutations:
    @strawberry.mutation(description="Book the exam on a resource at a free slot.")
    async def schedule_exam(self, info: Info, input: ScheduleExamInput) -> ScheduleExamResult:
        return await exam_step(
            info,
            input.exam_id,
            lambda uow, actor, pk: scheduling.schedule_exam(
                uow=uow,
                actor=actor,
                exam_id=pk,
                resource_code=input.resource_code,
                starts_at=input.starts_at,
                expected_version=input.expected_version,
            ),
            lambda appt, exam: ExamScheduled(exam=exam, appointment=Appointment.from_model(appt)),
            errors=SlotTaken | Failures,
        )

    @strawberry.mutation(description="The patient confirmed the appointment.")
    async def confirm_appointment(self, info: Info, input: ExamInput) -> ConfirmAppointmentResult:
        return await exam_step(
            info,
            input.exam_id,
            lambda uow, actor, pk: scheduling.confirm_appointment(uow=uow, actor=actor, exam_id=pk),
            lambda appt, exam: AppointmentConfirmed(
                exam=exam, appointment=Appointment.from_model(appt)
            ),
            errors=Failures,
        )

    @strawberry.mutation(description="Move the appointment, or rebook a no-show.")
    async def reschedule_exam(self, info: Info, input: RescheduleExamInput) -> RescheduleExamResult:
        return await exam_step(
            info,
            input.exam_id,
            lambda uow, actor, pk: scheduling.reschedule_exam(
                uow=uow,
                actor=actor,
                exam_id=pk,
                resource_code=input.resource_code,
                starts_at=input.starts_at,
                reason=input.reason,
                expected_version=input.expected_version,
            ),
            lambda appt, exam: ExamRescheduled(exam=exam, appointment=Appointment.from_model(appt)),
            errors=SlotTaken | Failures,
        )

    @strawberry.mutation(description="Cancel the exam (allowed until acquisition starts).")
    async def cancel_exam(self, info: Info, input: CancelExamInput) -> CancelExamResult:
        return await exam_step(
            info,
            input.exam_id,
            lambda uow, actor, pk: scheduling.cancel_exam(
                uow=uow,
                actor=actor,
                exam_id=pk,
                reason=input.reason,
                expected_version=input.expected_version,
            ),
            lambda _, exam: ExamCancelled(exam=exam),
            errors=Failures,
        )

    @strawberry.mutation(description="Record that the patient did not come.")
    async def mark_no_show(self, info: Info, input: MarkNoShowInput) -> MarkNoShowResult:
        return await exam_step(
            info,
            input.exam_id,
            lambda uow, actor, pk: scheduling.mark_no_show(
                uow=uow,
                actor=actor,
                exam_id=pk,
                reason=input.reason,
                expected_version=input.expected_version,
            ),
            lambda _, exam: NoShowRecorded(exam=exam),
            errors=Failures,
        )

    @strawberry.mutation(description="The patient arrived (STAT/ED exams need no appointment).")
    async def check_in(self, info: Info, input: ExamInput) -> CheckInResult:
        return await exam_step(
            info,
            input.exam_id,
            lambda uow, actor, pk: scheduling.check_in(
                uow=uow, actor=actor, exam_id=pk, expected_version=input.expected_version
            ),
            lambda _, exam: PatientCheckedIn(exam=exam),
            errors=Failures,
        )
