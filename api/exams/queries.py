"""Exam queries: the list (keyset paged), lookups by accession and by global id."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
import strawberry
from sqlmodel import SQLModel, col
from strawberry.types.nodes import SelectedField

from api.catalog.types import ModalityResource, Procedure, Site
from api.context import Info
from api.exams.inputs import ExamFilter, ExamOrder
from api.exams.types import Exam, FollowUp, Report
from api.people.types import Patient, Radiologist, Referrer
from api.projection import PageProjection, Prebuilt, exam_page_projection
from api.projection import encode_cursor as keyset_cursor  # one cursor format for both paths
from api.relay import Connection, Node, page_of, parse_global_id
from api.selection import selected_fields
from domain import models as m
from domain.access import scope_of, visible_exam_ids, visible_patient_ids
from domain.audit import touch_exam
from domain.enums import ExamStatus, Modality, Priority
from domain.errors import FieldIssue, IssueCode, ValidationFailed
from domain.queries import (
    MAX_PAGE,
    ExamCriteria,
    ExamPageRow,
    Keyset,
    count_exams,
    exam_page,
    page_parameters,
)

NODE_TYPES: dict[str, tuple[type[SQLModel], Callable[[Any], Node]]] = {
    "Exam": (m.Exam, Exam.from_model),
    "Patient": (m.Patient, Patient.from_model),
    "Referrer": (m.Referrer, Referrer.from_model),
    "Radiologist": (m.Radiologist, Radiologist.from_model),
    "Site": (m.Site, Site.from_model),
    "Procedure": (m.Procedure, Procedure.from_model),
    "ModalityResource": (m.ModalityResource, ModalityResource.from_model),
    "FollowUp": (m.FollowUpRecommendation, FollowUp.from_model),
}


def encode_cursor(exam: Exam) -> str:
    """An opaque cursor holding the exam's keyset position (the projection's format)."""
    return keyset_cursor(exam.ordered_at.isoformat(), exam.pk)


def decode_cursor(cursor: str) -> Keyset:
    """The keyset position of a cursor, or a typed error naming `after`."""
    try:
        stamp, _, pk = base64.urlsafe_b64decode(cursor.encode()).decode().partition("|")
        return Keyset(ordered_at=datetime.fromisoformat(stamp), exam_id=int(pk))
    except (binascii.Error, UnicodeError, ValueError) as exc:
        raise ValidationFailed(
            [FieldIssue("after", IssueCode.INVALID_CURSOR, "not a cursor of this list")]
        ) from exc


PAGE_RELATIONS = {"patient", "procedure", "site", "referrer", "report"}
_BUILDERS: dict[str, Any] = {
    "patient": Patient.from_model,
    "procedure": Procedure.from_model,
    "site": Site.from_model,
    "referrer": Referrer.from_model,
    "report": Report.from_model,
}


def page_of_exams(rows: list[ExamPageRow]) -> list[Exam]:
    """GraphQL exams with their fetched relations attached (each related row built once)."""
    built: dict[tuple[str, int], Any] = {}
    page = []
    for row in rows:
        # the page's exam is a namespace of Exam's columns, not a table row
        exam = Exam.from_model(row.exam)  # type: ignore[arg-type]
        for name, related in row.related.items():
            if related is None:
                exam.prefetched[name] = None
                continue
            key = (name, related.id)
            if key not in built:
                built[key] = _BUILDERS[name](related)
            exam.prefetched[name] = built[key]
        page.append(exam)
    return page


async def _projected(
    info: Info,
    projection: PageProjection,
    criteria: ExamCriteria,
    first: int,
    position: Keyset | None,
) -> Prebuilt:
    params = page_parameters(criteria, first=first + 1, after=position)

    rows = await info.context.db.fetch(projection.statement, params)
    for row in rows[:first]:
        touch_exam(row[projection.exam_id_at], mrn=row[projection.mrn_at])
    counted: list[int] = []
    if projection.wants_count:
        counted.append(await info.context.db.read(lambda s: count_exams(s, criteria)))
    return Prebuilt(
        projection.build(
            rows, first, position is not None, (lambda: counted[0]) if counted else None
        )
    )


@strawberry.type
class ExamQueries:
    @strawberry.field(description="Any object by its global id.")
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        parsed = parse_global_id(id)
        if parsed is None or parsed[0] not in NODE_TYPES:
            return None
        model, build = NODE_TYPES[parsed[0]]
        row = await info.context.loaders.by_id(model).load(parsed[1])
        if row is None or not await _visible(info, parsed[0], row):
            return None  # another's object: as far as this caller can tell, there is none
        return build(row)

    @strawberry.field(description="Exams, newest order first by default, keyset-paginated.")
    async def exams(
        self,
        info: Info,
        filter: ExamFilter | None = None,
        first: int = 20,
        after: str | None = None,
        order: ExamOrder = ExamOrder.ORDERED_AT_DESC,
    ) -> Connection[Exam]:
        if not 0 < first <= MAX_PAGE:
            raise ValidationFailed(
                [FieldIssue("first", IssueCode.OUT_OF_RANGE, f"must be between 1 and {MAX_PAGE}")]
            )
        position = decode_cursor(after) if after else None
        f = filter or ExamFilter()
        criteria = ExamCriteria(
            statuses=[ExamStatus(s) for s in f.status or []],
            priorities=[Priority(p) for p in f.priority or []],
            modalities=[Modality(x) for x in f.modality or []],
            site_code=f.site_code,
            patient_mrn=f.patient_mrn,
            ordered_from=f.ordered_from,
            ordered_to=f.ordered_to,
            scope=scope_of(info.context.actor),
        )
        descending = order == ExamOrder.ORDERED_AT_DESC

        def connection() -> SelectedField:
            field = info.selected_fields[0]
            assert isinstance(field, SelectedField)  # the `exams` field being resolved
            return field

        projection = exam_page_projection(
            info._raw_info.field_nodes[0],
            connection,
            criteria.shape(),
            position is not None,
            descending,
        )
        # The projection writes patients' details straight from rows: only for callers who
        # may see them (the standard path hides them in Patient.from_model).
        if projection is not None and info.context.actor.phi:
            # the prebuilt response stands in for the Connection (api.projection)
            return await _projected(info, projection, criteria, first, position)  # type: ignore[return-value]
        include = frozenset(selected_fields(info, "edges", "node") & PAGE_RELATIONS)
        rows = await info.context.db.read(
            lambda s: exam_page(
                s,
                criteria,
                first=first + 1,
                after=position,
                descending=order == ExamOrder.ORDERED_AT_DESC,
                include=include,
            ),
            bounded=True,
        )
        total = None
        if "totalCount" in selected_fields(info):
            total = await info.context.db.read(lambda s: count_exams(s, criteria))
        return page_of(
            page_of_exams(rows[:first]),
            encode_cursor,
            more=len(rows) > first,
            after=after,
            total=total,
        )

    @strawberry.field(
        description="An exam by its global `id` (the one mutations take) or by "
        "its accession number: exactly one of them. An id of another type, "
        "or of an exam you may not see, gives null, as `node` does."
    )
    async def exam(
        self, info: Info, id: strawberry.ID | None = None, accession_number: str | None = None
    ) -> Exam | None:
        if (id is None) == (accession_number is None):
            raise ValidationFailed(
                [FieldIssue("id", IssueCode.REQUIRED, "give exactly one of id and accessionNumber")]
            )
        if id is not None:
            parsed = parse_global_id(id)
            if parsed is None or parsed[0] != "Exam":
                return None
            row = await info.context.loaders.by_id(m.Exam).load(parsed[1])
        else:
            row = await info.context.db.read(
                lambda s: s.scalars(
                    sa.select(m.Exam).where(col(m.Exam.accession_number) == accession_number)
                ).first()
            )
        if row is None or not await _visible(info, "Exam", row):
            return None
        return Exam.from_model(row)

    @strawberry.field(description="A patient by MRN, with their exam timeline.")
    async def patient(self, info: Info, mrn: str) -> Patient | None:
        row = await info.context.db.read(
            lambda s: s.scalars(sa.select(m.Patient).where(col(m.Patient.mrn) == mrn)).first()
        )
        if row is None or not await _visible(info, "Patient", row):
            return None
        return Patient.from_model(row)


async def _visible(info: Info, type_name: str, row: Any) -> bool:
    """Whether the caller may see this object (exams, patients and follow-ups are theirs only
    as `domain.access` says; the catalogue and the staff are visible to every caller)."""
    actor = info.context.actor
    if scope_of(actor).unbounded:
        return True
    if type_name == "Patient":
        return row.id in await info.context.db.read(
            lambda s: visible_patient_ids(s, actor, [row.id])
        )
    exam_id = row.id if type_name == "Exam" else getattr(row, "exam_id", None)
    if exam_id is None:
        return True
    return exam_id in await info.context.db.read(lambda s: visible_exam_ids(s, actor, [exam_id]))
