"""Exam queries: the list (keyset paged), lookups by accession and by global id."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Any

import sqlalchemy as sa
import strawberry

from api.catalog.types import ModalityResource, Procedure, Site
from api.context import Info
from api.exams.inputs import ExamFilter, ExamOrder
from api.exams.types import Exam, FollowUp, Report
from api.people.types import Patient, Radiologist, Referrer
from api.relay import Connection, Edge, Node, PageInfo, parse_global_id
from api.selection import selected_fields
from domain import models as m
from domain.enums import ExamStatus, Modality, Priority
from domain.errors import FieldIssue, ValidationFailed
from domain.queries import MAX_PAGE, ExamCriteria, Keyset, count_exams, list_exams

NODE_TYPES: dict[str, tuple[type[Any], Any]] = {
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
    """An opaque cursor holding the exam's keyset position."""
    return base64.urlsafe_b64encode(f"{exam.ordered_at.isoformat()}|{exam.pk}".encode()).decode()


def decode_cursor(cursor: str) -> Keyset:
    """The keyset position of a cursor, or a typed error naming `after`."""
    try:
        stamp, _, pk = base64.urlsafe_b64decode(cursor.encode()).decode().partition("|")
        return Keyset(ordered_at=datetime.fromisoformat(stamp), exam_id=int(pk))
    except (binascii.Error, UnicodeError, ValueError) as exc:
        raise ValidationFailed([FieldIssue("after", "INVALID_CURSOR",
                                           "not a cursor of this list")]) from exc


async def prefetch(info: Info, exams: list[Exam], wanted: set[str]) -> None:
    """Fetch the page's related rows in one statement each, for the relations selected."""
    loaders = info.context.loaders
    relations = [("patient", m.Patient, "patient_id", Patient.from_model),
                 ("procedure", m.Procedure, "procedure_id", Procedure.from_model),
                 ("site", m.Site, "site_id", Site.from_model),
                 ("referrer", m.Referrer, "referrer_id", Referrer.from_model)]
    for name, model, key, build in relations:
        if name not in wanted:
            continue
        keys = [getattr(e, key) for e in exams]
        rows = await loaders.by_id(model).load_many(keys)
        built = {row.id: build(row) for row in rows if row is not None}
        for exam in exams:
            exam.prefetched[name] = built[getattr(exam, key)]
    if "report" in wanted:
        reports = await loaders.children(m.Report, "exam_id").load_many([e.pk for e in exams])
        for exam, rows in zip(exams, reports, strict=True):
            exam.prefetched["report"] = Report.from_model(rows[0]) if rows else None


@strawberry.type
class ExamQueries:
    @strawberry.field(description="Any object by its global id.")
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        parsed = parse_global_id(id)
        if parsed is None or parsed[0] not in NODE_TYPES:
            return None
        model, build = NODE_TYPES[parsed[0]]
        row = await info.context.loaders.by_id(model).load(parsed[1])
        return None if row is None else build(row)  # type: ignore[no-any-return]

    @strawberry.field(description="Exams, newest order first by default, keyset-paginated.")
    async def exams(self, info: Info, filter: ExamFilter | None = None, first: int = 20,
                    after: str | None = None,
                    order: ExamOrder = ExamOrder.ORDERED_AT_DESC) -> Connection[Exam]:
        if not 0 < first <= MAX_PAGE:
            raise ValidationFailed([FieldIssue("first", "OUT_OF_RANGE",
                                               f"must be between 1 and {MAX_PAGE}")])
        position = decode_cursor(after) if after else None
        f = filter or ExamFilter()
        criteria = ExamCriteria(
            statuses=[ExamStatus(s) for s in f.status or []],
            priorities=[Priority(p) for p in f.priority or []],
            modalities=[Modality(x) for x in f.modality or []],
            site_code=f.site_code, patient_mrn=f.patient_mrn, ordered_from=f.ordered_from,
            ordered_to=f.ordered_to,
        )
        rows = await info.context.db.read(lambda s: list_exams(
            s, criteria, first=first + 1, after=position,
            descending=order == ExamOrder.ORDERED_AT_DESC))
        page = [Exam.from_model(r) for r in rows[:first]]
        await prefetch(info, page, selected_fields(info, "edges", "node"))
        edges = [Edge(cursor=encode_cursor(e), node=e) for e in page]
        total = None
        if "totalCount" in selected_fields(info):
            total = await info.context.db.read(lambda s: count_exams(s, criteria))
        return Connection(
            edges=edges, total_count=total,
            page_info=PageInfo(has_next_page=len(rows) > first, has_previous_page=after is not None,
                               start_cursor=edges[0].cursor if edges else None,
                               end_cursor=edges[-1].cursor if edges else None),
        )

    @strawberry.field(description="An exam by its accession number.")
    async def exam(self, info: Info, accession_number: str) -> Exam | None:
        row = await info.context.db.read(lambda s: s.scalars(
            sa.select(m.Exam).where(m.Exam.accession_number == accession_number)).first())
        return None if row is None else Exam.from_model(row)

    @strawberry.field(description="A patient by MRN, with their exam timeline.")
    async def patient(self, info: Info, mrn: str) -> Patient | None:
        row = await info.context.db.read(lambda s: s.scalars(
            sa.select(m.Patient).where(m.Patient.mrn == mrn)).first())
        return None if row is None else Patient.from_model(row)
