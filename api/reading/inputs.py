"""Inputs of reading and reporting steps."""

from __future__ import annotations

import strawberry

from api.enums import CriticalLevel
from api.exams.inputs import VERSION_HELP


@strawberry.input
class AssignReadInput:
    exam_id: strawberry.ID
    radiologist_code: str
    reason: str = strawberry.field(description="Why this reader (kept with the assignment).")


@strawberry.input(description="Give an opened study back to the balancer.")
class ReleaseReadInput:
    exam_id: strawberry.ID
    reason: str = strawberry.field(
        description="Why (kept on the ended read, in the history, "
        "and on the study's next assignment)."
    )
    expected_version: int | None = strawberry.field(default=None, description=VERSION_HELP)


@strawberry.input
class ReportFieldInput:
    key: str
    value: str


@strawberry.input
class ReportSectionInput:
    key: str
    fields: list[ReportFieldInput]


@strawberry.input(description="Sections merge into the draft: fields not sent keep their text.")
class SaveReportDraftInput:
    exam_id: strawberry.ID
    sections: list[ReportSectionInput]
    impression: str
    critical_level: CriticalLevel = CriticalLevel.NONE
    expected_version: int | None = strawberry.field(
        default=None,
        description="The exam `version` you read; a draft saved by someone "
        "else since then makes this save fail with Conflict instead of overwriting it.",
    )


@strawberry.input
class AddAddendumInput:
    exam_id: strawberry.ID
    text: str
