"""Catalog queries: sites, scanners, procedures and open slots."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
import strawberry
from sqlmodel import col

from api.arguments import FromArgument
from api.catalog.types import ModalityResource, OpenSlot, Procedure, Site
from api.context import Info
from api.enums import Modality
from api.people.types import Radiologist, Referrer
from domain import models as m
from domain.services.scheduling import open_slots


@strawberry.type
class CatalogQueries:
    @strawberry.field(description="Every site.")
    async def sites(self, info: Info) -> list[Site]:
        rows = await info.context.db.read(
            lambda s: list(s.scalars(sa.select(m.Site).order_by(m.Site.code)))
        )
        return [Site.from_model(r) for r in rows]

    @strawberry.field(description="The procedure catalog, optionally for one modality.")
    async def procedures(self, info: Info, modality: Modality | None = None) -> list[Procedure]:
        def query(s: sa.orm.Session) -> list[m.Procedure]:
            q = sa.select(m.Procedure).where(col(m.Procedure.active).is_(True))
            if modality is not None:
                q = q.where(col(m.Procedure.modality) == modality)
            return list(s.scalars(q.order_by(m.Procedure.code)))

        return [Procedure.from_model(r) for r in await info.context.db.read(query)]

    @strawberry.field(description="Scanners and rooms exams are booked on.")
    async def modality_resources(self, info: Info) -> list[ModalityResource]:
        rows = await info.context.db.read(
            lambda s: list(
                s.scalars(sa.select(m.ModalityResource).order_by(m.ModalityResource.code))
            )
        )
        return [ModalityResource.from_model(r) for r in rows]

    @strawberry.field(
        description="Free slots that fit a procedure between two times "
        "(at most 31 days apart), soonest first."
    )
    async def open_slots(
        self,
        info: Info,
        procedure_code: str,
        from_: FromArgument,
        to: datetime,
        site_code: str | None = None,
    ) -> list[OpenSlot]:
        now = info.context.db.clock()
        slots = await info.context.db.read(
            lambda s: open_slots(
                s, procedure_code=procedure_code, start=from_, end=to, now=now, site_code=site_code
            )
        )
        return [OpenSlot.from_slot(slot) for slot in slots]

    @strawberry.field(description="Radiologists with their credentials and status.")
    async def radiologists(self, info: Info) -> list[Radiologist]:
        rows = await info.context.db.read(
            lambda s: list(s.scalars(sa.select(m.Radiologist).order_by(m.Radiologist.code)))
        )
        return [Radiologist.from_model(r) for r in rows]

    @strawberry.field(description="Referring physicians.")
    async def referrers(self, info: Info) -> list[Referrer]:
        rows = await info.context.db.read(
            lambda s: list(s.scalars(sa.select(m.Referrer).order_by(m.Referrer.code)))
        )
        return [Referrer.from_model(r) for r in rows]
