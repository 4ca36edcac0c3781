"""The studies the PACS holds that no order matched."""

from __future__ import annotations

import strawberry

from api.context import Info
from api.imaging.types import FailedStudy, UnmatchedStudy
from domain.audit import touch_patient
from domain.errors import FieldIssue, IssueCode, ValidationFailed
from domain.queries import MAX_PAGE
from interfaces.dicom.pacs import failed_studies
from interfaces.dicom.reconcile import unmatched_studies


@strawberry.type
class ImagingQueries:
    @strawberry.field(description="Studies in the PACS no order matched, oldest first.")
    async def unmatched_studies(self, info: Info, first: int = 50) -> list[UnmatchedStudy]:
        if not 0 < first <= MAX_PAGE:
            raise ValidationFailed(
                [FieldIssue("first", IssueCode.OUT_OF_RANGE, f"must be between 1 and {MAX_PAGE}")]
            )
        rows = await info.context.db.read(lambda s: unmatched_studies(s, first))
        phi = info.context.actor.phi
        for row in rows:  # the headers name patients: the read is audited with their ids
            touch_patient(None, str(row.header.get("patient_id", "")) or None)
        return [UnmatchedStudy.from_model(r, phi=phi) for r in rows]

    @strawberry.field(
        description="Studies in the PACS whose handling failed, with the error and the next "
        "try, the longest failing first."
    )
    async def failed_studies(self, info: Info, first: int = 50) -> list[FailedStudy]:
        if not 0 < first <= MAX_PAGE:
            raise ValidationFailed(
                [FieldIssue("first", IssueCode.OUT_OF_RANGE, f"must be between 1 and {MAX_PAGE}")]
            )
        rows = await info.context.db.read(lambda s: failed_studies(s, first))
        return [FailedStudy.from_model(r) for r in rows]
