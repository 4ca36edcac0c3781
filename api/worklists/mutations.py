"""Shifts, radiologist status, supervisor pins and an on-demand re-plan."""

from __future__ import annotations

from typing import Annotated

import strawberry
from graphql import GraphQLError

from api.commands import exam_step
from api.context import Info
from api.errors import (
    Conflict,
    InvalidTransition,
    NotFound,
    ValidationFailed,
    attempt,
    forbidden,
)
from api.exams.types import Exam, Read
from api.people.types import Radiologist
from api.worklists.inputs import (
    PinAssignmentInput,
    RadiologistInput,
    SetRadiologistStatusInput,
    StartShiftInput,
    UnpinAssignmentInput,
)
from api.worklists.types import BalancerRun
from application.authorization import COMMAND_ROLES
from application.planning.leadership import NotLeader
from domain import models as m
from domain.db import UnitOfWork
from domain.services import worklists


@strawberry.type
class ShiftStarted:
    radiologist: Radiologist


@strawberry.type
class ShiftEnded:
    radiologist: Radiologist


@strawberry.type
class RadiologistStatusSet:
    radiologist: Radiologist


@strawberry.type
class AssignmentPinned:
    exam: Exam
    read: Read


@strawberry.type
class AssignmentUnpinned:
    exam: Exam
    read: Read


@strawberry.type(description="A re-plan ran and committed.")
class Rebalanced:
    run: BalancerRun
    stale: int = strawberry.field(
        description="Studies left alone because they changed while the plan was computed."
    )


StartShiftResult = Annotated[
    ShiftStarted | NotFound | ValidationFailed, strawberry.union("StartShiftResult")
]
EndShiftResult = Annotated[
    ShiftEnded | NotFound | ValidationFailed, strawberry.union("EndShiftResult")
]
SetRadiologistStatusResult = Annotated[
    RadiologistStatusSet | NotFound | ValidationFailed,
    strawberry.union("SetRadiologistStatusResult"),
]
PinFailures = NotFound | InvalidTransition | ValidationFailed | Conflict
PinAssignmentResult = Annotated[
    AssignmentPinned | PinFailures, strawberry.union("PinAssignmentResult")
]
UnpinAssignmentResult = Annotated[
    AssignmentUnpinned | PinFailures, strawberry.union("UnpinAssignmentResult")
]


async def _radiologist_step(info: Info, command: object) -> Radiologist:
    def run(uow: UnitOfWork) -> Radiologist:
        row = command(uow)  # type: ignore[operator]
        radiologist = (
            row
            if isinstance(row, m.Radiologist)
            else uow.session.get(m.Radiologist, row.radiologist_id)
        )
        assert radiologist is not None
        return Radiologist.from_model(radiologist)

    return await info.context.commands.run(info.field_name, run)


@strawberry.type
class WorklistMutations:
    @strawberry.mutation(description="A radiologist starts a reading shift now.")
    async def start_shift(self, info: Info, input: StartShiftInput) -> StartShiftResult:
        actor = info.context.actor

        async def run() -> ShiftStarted:
            return ShiftStarted(
                radiologist=await _radiologist_step(
                    info,
                    lambda uow: worklists.start_shift(
                        uow=uow,
                        actor=actor,
                        radiologist_code=input.radiologist_code,
                        site_code=input.site_code,
                        ends_at=input.ends_at,
                    ),
                )
            )

        return await attempt(run, errors=NotFound | ValidationFailed)

    @strawberry.mutation(description="A radiologist's shift ends now; unopened studies move.")
    async def end_shift(self, info: Info, input: RadiologistInput) -> EndShiftResult:
        actor = info.context.actor

        async def run() -> ShiftEnded:
            return ShiftEnded(
                radiologist=await _radiologist_step(
                    info,
                    lambda uow: worklists.end_shift(
                        uow=uow, actor=actor, radiologist_code=input.radiologist_code
                    ),
                )
            )

        return await attempt(run, errors=NotFound | ValidationFailed)

    @strawberry.mutation(description="Available or on a break, during a shift.")
    async def set_radiologist_status(
        self, info: Info, input: SetRadiologistStatusInput
    ) -> SetRadiologistStatusResult:
        actor = info.context.actor

        async def run() -> RadiologistStatusSet:
            return RadiologistStatusSet(
                radiologist=await _radiologist_step(
                    info,
                    lambda uow: worklists.set_radiologist_status(
                        uow=uow,
                        actor=actor,
                        radiologist_code=input.radiologist_code,
                        status=input.status,
                    ),
                )
            )

        return await attempt(run, errors=NotFound | ValidationFailed)

    @strawberry.mutation(
        description="Supervisor: keep a study on an eligible radiologist's "
        "worklist; the balancer will not move it."
    )
    async def pin_assignment(self, info: Info, input: PinAssignmentInput) -> PinAssignmentResult:
        return await exam_step(
            info,
            input.exam_id,
            lambda uow, actor, pk: worklists.pin_assignment(
                uow=uow,
                actor=actor,
                exam_id=pk,
                radiologist_code=input.radiologist_code,
                reason=input.reason,
            ),
            lambda read, exam: AssignmentPinned(exam=exam, read=Read.from_model(read)),
            errors=PinFailures,
        )

    @strawberry.mutation(description="Supervisor: release a pin.")
    async def unpin_assignment(
        self, info: Info, input: UnpinAssignmentInput
    ) -> UnpinAssignmentResult:
        return await exam_step(
            info,
            input.exam_id,
            lambda uow, actor, pk: worklists.unpin_assignment(uow=uow, actor=actor, exam_id=pk),
            lambda read, exam: AssignmentUnpinned(exam=exam, read=Read.from_model(read)),
            errors=PinFailures,
        )

    @strawberry.mutation(
        description="Supervisor: re-plan every worklist now. Runs on the "
        "replica that leads the balancer (or on any replica when "
        "none leads); elsewhere it fails with code NOT_LEADER."
    )
    async def rebalance_now(self, info: Info) -> Rebalanced:
        actor = info.context.actor
        if actor.role not in COMMAND_ROLES["rebalanceNow"]:
            raise forbidden(f"role {actor.role.value} may not rebalance")
        try:
            report = await info.context.runner.run_once(f"rebalanceNow by {actor.id}")
        except NotLeader as exc:  # another replica runs the balancer: ask it (or retry)
            raise GraphQLError(str(exc), extensions={"code": "NOT_LEADER"}) from exc
        row = await info.context.db.read(lambda s: s.get(m.BalancerRun, report.outcome.run_id))
        assert row is not None
        return Rebalanced(run=BalancerRun.from_model(row), stale=report.outcome.stale)
