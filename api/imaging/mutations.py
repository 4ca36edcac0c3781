"""reconcileStudy: an unmatched study attached to its exam, its header fixed in the PACS."""

from __future__ import annotations

from typing import Annotated

import httpx
import strawberry

from api.context import Info
from api.errors import Conflict, NotFound, ValidationFailed, attempt
from api.exams.types import Exam
from api.imaging.inputs import ReconcileStudyInput
from api.imaging.types import StudyReconciled
from api.relay import decode_id
from interfaces.dicom.pacs import Orthanc
from interfaces.dicom.reconcile import reconcile_study

ReconcileErrors = NotFound | ValidationFailed | Conflict
ReconcileStudyResult = Annotated[
    StudyReconciled | ReconcileErrors,
    strawberry.union("ReconcileStudyResult"),
]


@strawberry.type
class ImagingMutations:
    @strawberry.mutation(
        description="Attach a study no order matched to its exam: its header (patient id, "
        "name, birth date, accession) is fixed in the PACS, its UIDs kept; audited."
    )
    async def reconcile_study(self, info: Info, input: ReconcileStudyInput) -> ReconcileStudyResult:
        context = info.context

        async def run() -> StudyReconciled:
            pk = decode_id(input.exam_id, "Exam", field="exam_id")
            url = context.settings.orthanc_url
            async with httpx.AsyncClient(base_url=url or "http://unset", timeout=30) as client:
                reconciled, exam = await reconcile_study(
                    context.db,
                    context.actor,
                    Orthanc(client) if url else None,
                    pacs_id=input.pacs_id,
                    exam_id=pk,
                    reason=input.reason,
                    sent=str(input.exam_id),
                )
            return StudyReconciled(exam=Exam.from_model(exam), pacs_id=reconciled.fixed_pacs_id)

        return await attempt(
            run, sent={"exam_id": input.exam_id, "pacs_id": input.pacs_id}, errors=ReconcileErrors
        )
