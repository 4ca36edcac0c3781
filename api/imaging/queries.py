"""The studies the PACS holds that no order matched, and those past retention."""

from __future__ import annotations

import sqlalchemy as sa
import strawberry
from sqlalchemy.orm import Session
from sqlmodel import col

from api.context import Info
from api.imaging.types import (
    ExpiredStudy,
    FailedStudy,
    LegalHold,
    RetentionRule,
    StudyPurge,
    UnmatchedStudy,
)
from application import purges, retention
from domain import models as m
from domain.audit import touch_patient
from domain.db import UnitOfWork
from domain.errors import FieldIssue, IssueCode, ValidationFailed
from domain.queries import MAX_PAGE
from interfaces.dicom.pacs import failed_studies
from interfaces.dicom.reconcile import unmatched_studies


def _page(first: int) -> None:
    if not 0 < first <= MAX_PAGE:
        raise ValidationFailed(
            [FieldIssue("first", IssueCode.OUT_OF_RANGE, f"must be between 1 and {MAX_PAGE}")]
        )


def hold_types(session: Session, rows: list[m.LegalHold]) -> list[LegalHold]:
    """The holds as GraphQL types, each with its patient's MRN."""
    patients = {h.patient_id for h in rows if h.patient_id is not None}
    mrns: dict[int | None, str] = {
        pk: mrn
        for pk, mrn in session.execute(
            sa.select(col(m.Patient.id), col(m.Patient.mrn)).where(col(m.Patient.id).in_(patients))
        )
    }
    for mrn in mrns.values():  # a hold names its patient: the read is audited with the MRN
        touch_patient(None, mrn)
    return [LegalHold.from_model(h, mrns.get(h.patient_id)) for h in rows]


def site_codes(session: Session) -> dict[int | None, str]:
    return {pk: code for pk, code in session.execute(sa.select(col(m.Site.id), col(m.Site.code)))}


@strawberry.type
class ImagingQueries:
    @strawberry.field(description="Studies in the PACS no order matched, oldest first.")
    async def unmatched_studies(self, info: Info, first: int = 50) -> list[UnmatchedStudy]:
        _page(first)
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
        _page(first)
        rows = await info.context.db.read(lambda s: failed_studies(s, first))
        return [FailedStudy.from_model(r) for r in rows]

    @strawberry.field(
        description="Studies in the PACS past retention today, earliest expiry first, each "
        "with its active legal holds (a held study is listed but never deleted). Expiries "
        "of studies stored or changed since they were last worked out are worked out first."
    )
    async def expired_studies(self, info: Info, first: int = 100) -> list[ExpiredStudy]:
        _page(first)

        def listed(uow: UnitOfWork) -> list[ExpiredStudy]:
            rows = purges.expired(uow, first=first)
            held = retention.active_holds(uow.session, rows)
            return [
                ExpiredStudy.from_model(r, hold_types(uow.session, held.get(r.id or 0, [])))
                for r in rows
            ]

        return await info.context.db.run(listed)

    @strawberry.field(description="The retention policy: one rule per class of study.")
    async def retention_rules(self, info: Info) -> list[RetentionRule]:
        def listed(session: Session) -> list[RetentionRule]:
            codes = site_codes(session)
            return [
                RetentionRule.from_model(r, codes.get(r.site_id) if r.site_id else None)
                for r in retention.rules(session)
            ]

        return await info.context.db.read(listed)

    @strawberry.field(description="Legal holds, newest first; only active ones unless asked.")
    async def legal_holds(self, info: Info, include_released: bool = False) -> list[LegalHold]:
        return await info.context.db.read(
            lambda s: hold_types(s, retention.holds(s, active_only=not include_released))
        )

    @strawberry.field(description="What purges deleted from the PACS, newest first.")
    async def study_purges(self, info: Info, first: int = 100) -> list[StudyPurge]:
        _page(first)
        rows = await info.context.db.read(lambda s: purges.purges(s, first))
        return [StudyPurge.from_model(r) for r in rows]
