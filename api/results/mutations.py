"""Stages 9-11 mutations: results, acknowledgements, follow-up, surveys, closing."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import strawberry

from api.commands import exam_step
from api.context import Info
from api.errors import (
    Conflict,
    InvalidTransition,
    NotFound,
    PreconditionFailed,
    ValidationFailed,
    attempt,
)
from api.exams.inputs import ExamInput
from api.exams.types import Exam, FollowUp, ResultCommunication, Survey
from api.relay import decode_id
from api.results.inputs import (
    AcknowledgeResultInput,
    CompleteFollowUpInput,
    NotifyResultInput,
    RecordFollowUpInput,
    SubmitSurveyInput,
)
from domain.services import follow_ups, results


@strawberry.type
class ResultCommunicated:
    exam: Exam
    communication: ResultCommunication


@strawberry.type
class ResultAcknowledged:
    exam: Exam
    communication: ResultCommunication


@strawberry.type
class FollowUpRecorded:
    exam: Exam
    follow_up: FollowUp


@strawberry.type
class FollowUpCompleted:
    follow_up: FollowUp


@strawberry.type
class SurveySubmitted:
    exam: Exam
    survey: Survey


@strawberry.type
class ExamClosed:
    exam: Exam


Failures = NotFound | InvalidTransition | PreconditionFailed | ValidationFailed | Conflict
NotifyResultResult = Annotated[
    ResultCommunicated | Failures, strawberry.union("NotifyResultResult")
]
AcknowledgeResultResult = Annotated[
    ResultAcknowledged | Failures, strawberry.union("AcknowledgeResultResult")
]
RecordFollowUpResult = Annotated[
    FollowUpRecorded | Failures, strawberry.union("RecordFollowUpResult")
]
CompleteFollowUpResult = Annotated[
    FollowUpCompleted | NotFound | ValidationFailed, strawberry.union("CompleteFollowUpResult")
]
SubmitSurveyResult = Annotated[SurveySubmitted | Failures, strawberry.union("SubmitSurveyResult")]
CloseExamResult = Annotated[ExamClosed | Failures, strawberry.union("CloseExamResult")]


@strawberry.type
class ResultsMutations:
    @strawberry.mutation(description="Send the final result to the referrer.")
    async def notify_result(self, info: Info, input: NotifyResultInput) -> NotifyResultResult:
        settings = info.context.settings
        direct = input.direct
        return await exam_step(
            info,
            input.exam_id,
            lambda uow, actor, pk: results.notify_result(
                uow=uow,
                actor=actor,
                exam_id=pk,
                channel=input.channel,
                finding=input.finding,
                direct=results.DirectContact(
                    received_by=direct.received_by, via=direct.channel, at=direct.at
                )
                if direct is not None
                else None,
                windows=settings.result_windows,
                survey_after=timedelta(hours=settings.survey_invite_after_hours),
                expected_version=input.expected_version,
            ),
            lambda c, exam: ResultCommunicated(
                exam=exam, communication=ResultCommunication.from_model(c)
            ),
            errors=Failures,
        )

    @strawberry.mutation(
        description="Acknowledge the communicated result: its recipient, or anyone recording "
        "the recipient's read-back."
    )
    async def acknowledge_result(
        self, info: Info, input: AcknowledgeResultInput
    ) -> AcknowledgeResultResult:
        back = input.read_back
        read_back = (
            results.ReadBack(read_back_by=back.read_back_by, via=back.channel, at=back.at)
            if back is not None
            else None
        )
        return await exam_step(
            info,
            input.exam_id,
            lambda uow, actor, pk: results.acknowledge_result(
                uow=uow, actor=actor, exam_id=pk, read_back=read_back
            ),
            lambda c, exam: ResultAcknowledged(
                exam=exam, communication=ResultCommunication.from_model(c)
            ),
            errors=Failures,
        )

    @strawberry.mutation(description="Record a follow-up recommendation.")
    async def record_follow_up(
        self, info: Info, input: RecordFollowUpInput
    ) -> RecordFollowUpResult:
        return await exam_step(
            info,
            input.exam_id,
            lambda uow, actor, pk: follow_ups.record_follow_up(
                uow=uow,
                actor=actor,
                exam_id=pk,
                recommendation=input.recommendation,
                modality=input.modality,
                body_region=input.body_region,
                interval=(input.interval.count, input.interval.unit) if input.interval else None,
                reason=input.reason,
                due_on=input.due_on,
                procedure_code=input.procedure_code,
            ),
            lambda f, exam: FollowUpRecorded(exam=exam, follow_up=FollowUp.from_model(f)),
            errors=Failures,
        )

    @strawberry.mutation(description="Mark a follow-up as done.")
    async def complete_follow_up(
        self, info: Info, input: CompleteFollowUpInput
    ) -> CompleteFollowUpResult:
        actor = info.context.actor

        async def run() -> FollowUpCompleted:
            pk = decode_id(input.follow_up_id, "FollowUp", field="follow_up_id")
            done = (
                decode_id(input.completed_exam_id, "Exam", field="completed_exam_id")
                if input.completed_exam_id
                else None
            )
            row = await info.context.commands.run(
                "completeFollowUp",
                lambda uow: follow_ups.complete_follow_up(
                    uow=uow, actor=actor, follow_up_id=pk, completed_exam_id=done
                ),
            )
            return FollowUpCompleted(follow_up=FollowUp.from_model(row))

        return await attempt(
            run,
            sent={
                "follow_up_id": input.follow_up_id,
                "completed_exam_id": input.completed_exam_id,
            },
            errors=NotFound | ValidationFailed,
        )

    @strawberry.mutation(description="Answer a satisfaction survey.")
    async def submit_survey(self, info: Info, input: SubmitSurveyInput) -> SubmitSurveyResult:
        return await exam_step(
            info,
            input.exam_id,
            lambda uow, actor, pk: results.submit_survey(
                uow=uow,
                actor=actor,
                exam_id=pk,
                respondent=input.respondent,
                score=input.score,
                comment=input.comment,
            ),
            lambda s, exam: SurveySubmitted(exam=exam, survey=Survey.from_model(s)),
            errors=Failures,
        )

    @strawberry.mutation(description="Close and archive the exam.")
    async def close_exam(self, info: Info, input: ExamInput) -> CloseExamResult:
        return await exam_step(
            info,
            input.exam_id,
            lambda uow, actor, pk: results.close_exam(
                uow=uow, actor=actor, exam_id=pk, expected_version=input.expected_version
            ),
            lambda _, exam: ExamClosed(exam=exam),
            errors=Failures,
        )
