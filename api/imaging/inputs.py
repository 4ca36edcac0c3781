"""Inputs of reconcileStudy."""

from __future__ import annotations

import strawberry


@strawberry.input
class ReconcileStudyInput:
    pacs_id: str = strawberry.field(description="The unmatched study (UnmatchedStudy.pacsId).")
    exam_id: strawberry.ID = strawberry.field(description="The exam it belongs to.")
    reason: str = strawberry.field(description="Why (kept in the audit and with the study).")
