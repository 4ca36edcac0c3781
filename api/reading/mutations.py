"""Stages 7-8 mutations: assignment, opening a study, drafting and signing reports."""

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
    ReportIncomplete,
    ValidationFailed,
)
from api.exams.inputs import ExamInput
from api.exams.types import Addendum, Exam, Read, Report
from api.reading.inputs import (
    AddAddendumInput,
    AssignReadInput,
    ReleaseReadInput,
    SaveReportDraftInput,
)
from domain.services import reading, worklists


@strawberry.type
class ReadAssigned:
    exam: Exam
    read: Read


@strawberry.type
class ReadOpened:
    exam: Exam
    read: Read


@strawberry.type(
    description="The study is back with the balancer (READY_FOR_READ); `read` is "
    "the read that ended."
)
class ReadReleased:
    exam: Exam
    read: Read


@strawberry.type
class ReportDraftSaved:
    exam: Exam
    report: Report


@strawberry.type
class ReportSignedPreliminary:
    exam: Exam
    report: Report


@strawberry.type
class ReportSignedFinal:
    exam: Exam
    report: Report


@strawberry.type
class ReportAmended:
    exam: Exam
    addendum: Addendum


Failures = NotFound | InvalidTransition | PreconditionFailed | ValidationFailed | Conflict
AssignReadResult = Annotated[ReadAssigned | Failures, strawberry.union("AssignReadResult")]
OpenReadResult = Annotated[ReadOpened | Failures, strawberry.union("OpenReadResult")]
ReleaseReadResult = Annotated[ReadReleased | Failures, strawberry.union("ReleaseReadResult")]
SaveReportDraftResult = Annotated[
    ReportDraftSaved | Failures, strawberry.union("SaveReportDraftResult")
]
SignPreliminaryResult = Annotated[
    ReportSignedPreliminary | Failures | ReportIncomplete, strawberry.union("SignPreliminaryResult")
]
SignFinalResult = Annotated[
    ReportSignedFinal | Failures | ReportIncomplete, strawberry.union("SignFinalResult")
]
AddAddendumResult = Annotated[ReportAmended | Failures, strawberry.union("AddAddendumResult")]


@strawberry.type
class ReadingMutations:
    @strawberry.mutation(
        description="Supervisor override: put a ready study on an eligible "
        "radiologist's worklist and pin it there (the same path "
        "as pinAssignment)."
    )
    async def assign_read(self, info: Info, input: AssignReadInput) -> AssignReadResult:
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
            lambda read, exam: ReadAssigned(exam=exam, read=Read.from_model(read)),
            errors=Failures,
        )

    @strawberry.mutation(description="Radiologist: open a study from your worklist.")
    async def open_read(self, info: Info, input: ExamInput) -> OpenReadResult:
        return await exam_step(
            info,
            input.exam_id,
            lambda uow, actor, pk: reading.open_read(
                uow=uow, actor=actor, exam_id=pk, expected_version=input.expected_version
            ),
            lambda read, exam: ReadOpened(exam=exam, read=Read.from_model(read)),
            errors=Failures,
        )

    @strawberry.mutation(
        description="Give an opened study back to the balancer, with a reason: "
        "a radiologist hands back a study they opened (it is not "
        "given to them again); a supervisor releases one opened "
        "by someone else (absent, stuck). The report draft stays "
        "with the study for its next reader."
    )
    async def release_read(self, info: Info, input: ReleaseReadInput) -> ReleaseReadResult:
        return await exam_step(
            info,
            input.exam_id,
            lambda uow, actor, pk: reading.release_read(
                uow=uow,
                actor=actor,
                exam_id=pk,
                reason=input.reason,
                expected_version=input.expected_version,
            ),
            lambda read, exam: ReadReleased(exam=exam, read=Read.from_model(read)),
            errors=Failures,
        )

    @strawberry.mutation(
        description="Radiologist: save the report draft. Fields follow "
        "`exam.reportTemplate`; a CODED field's value must be one of its "
        "`allowedValues` (else ValidationFailed, code INVALID_VALUE). Saving "
        "moves the exam's `version`."
    )
    async def save_report_draft(
        self, info: Info, input: SaveReportDraftInput
    ) -> SaveReportDraftResult:
        sections: dict[str, dict[str, str]] = {}
        for section in input.sections:
            sections.setdefault(section.key, {}).update({f.key: f.value for f in section.fields})
        return await exam_step(
            info,
            input.exam_id,
            lambda uow, actor, pk: reading.save_report_draft(
                uow=uow,
                actor=actor,
                exam_id=pk,
                sections=sections,
                impression=input.impression,
                critical_level=input.critical_level,
                expected_version=input.expected_version,
            ),
            lambda report, exam: ReportDraftSaved(exam=exam, report=Report.from_model(report)),
            errors=Failures,
        )

    @strawberry.mutation(
        description="Radiologist: sign a preliminary report. A report missing "
        "a required field or holding a code its field does not allow answers "
        "ReportIncomplete, listing every such field."
    )
    async def sign_preliminary(self, info: Info, input: ExamInput) -> SignPreliminaryResult:
        return await exam_step(
            info,
            input.exam_id,
            lambda uow, actor, pk: reading.sign_preliminary(
                uow=uow, actor=actor, exam_id=pk, expected_version=input.expected_version
            ),
            lambda report, exam: ReportSignedPreliminary(
                exam=exam, report=Report.from_model(report)
            ),
            errors=Failures | ReportIncomplete,
        )

    @strawberry.mutation(
        description="Radiologist: sign the final report (an incomplete report "
        "answers ReportIncomplete, as signPreliminary does)."
    )
    async def sign_final(self, info: Info, input: ExamInput) -> SignFinalResult:
        return await exam_step(
            info,
            input.exam_id,
            lambda uow, actor, pk: reading.sign_final(
                uow=uow, actor=actor, exam_id=pk, expected_version=input.expected_version
            ),
            lambda report, exam: ReportSignedFinal(exam=exam, report=Report.from_model(report)),
            errors=Failures | ReportIncomplete,
        )

    @strawberry.mutation(description="Radiologist: amend a signed report with an addendum.")
    async def add_addendum(self, info: Info, input: AddAddendumInput) -> AddAddendumResult:
        return await exam_step(
            info,
            input.exam_id,
            lambda uow, actor, pk: reading.add_addendum(
                uow=uow, actor=actor, exam_id=pk, text=input.text
            ),
            lambda a, exam: ReportAmended(
                exam=exam, addendum=Addendum(text=a.text, created_at=a.created_at)
            ),
            errors=Failures,
        )
