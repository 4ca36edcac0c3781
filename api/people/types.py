"""GraphQL types of people: patients, referring physicians, radiologists."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from api.catalog.types import Site
from api.context import Info
from api.enums import RadiologistStatus, Subspecialty
from api.relay import Node, to_global_id
from api.worklists.loaders import current_load, open_shifts
from domain import models as m
from domain.access import visible_exam_ids
from domain.audit import current_trail, touch_patient

if TYPE_CHECKING:
    from api.exams.types import Exam


@strawberry.type(
    description="A patient, identified by MRN. Names, birth date, sex and contact "
    "are null for callers not granted PHI (`phiHidden`)."
)
class Patient(Node):
    mrn: str
    given_name: str | None
    family_name: str | None
    birth_date: date | None
    sex: str | None = strawberry.field(description="F, M, O (other) or U (unknown).")
    phone: str | None
    email: str | None
    phi_hidden: bool = strawberry.field(
        description="True when this caller may not see the patient's identifying details."
    )
    pk: strawberry.Private[int]

    @classmethod
    def from_model(cls, row: m.Patient) -> Patient:
        assert row.id is not None
        touch_patient(row.id, row.mrn)
        trail = current_trail.get()
        if trail is not None and not trail.actor.phi:
            return cls(
                id=strawberry.ID(to_global_id("Patient", row.id)),
                mrn=row.mrn,
                given_name=None,
                family_name=None,
                birth_date=None,
                sex=None,
                phone=None,
                email=None,
                phi_hidden=True,
                pk=row.id,
            )
        return cls(
            id=strawberry.ID(to_global_id("Patient", row.id)),
            mrn=row.mrn,
            given_name=row.given_name,
            family_name=row.family_name,
            birth_date=row.birth_date,
            sex=row.sex,
            phone=row.phone,
            email=row.email,
            phi_hidden=False,
            pk=row.id,
        )

    @strawberry.field(description="The patient's exams, oldest order first: their timeline.")
    async def exams(self, info: Info) -> list[Annotated[Exam, strawberry.lazy("api.exams.types")]]:
        from api.exams.types import Exam

        rows = await info.context.loaders.children(m.Exam, "patient_id", "ordered_at").load(self.pk)
        visible = await info.context.db.read(
            lambda s: visible_exam_ids(
                s, info.context.actor, [r.id for r in rows if r.id is not None]
            )
        )
        return [Exam.from_model(r) for r in rows if r.id in visible]


@strawberry.type(description="A referring physician.")
class Referrer(Node):
    code: str
    name: str
    email: str | None
    phone: str | None

    @classmethod
    def from_model(cls, row: m.Referrer) -> Referrer:
        assert row.id is not None
        return cls(
            id=strawberry.ID(to_global_id("Referrer", row.id)),
            code=row.code,
            name=row.name,
            email=row.email,
            phone=row.phone,
        )


@strawberry.type(description="A licence to read for a site.")
class SitePrivilege:
    expires_on: date | None
    site_id: strawberry.Private[int]

    @strawberry.field
    async def site(self, info: Info) -> Site:
        row = await info.context.loaders.by_id(m.Site).load(self.site_id)
        assert row is not None
        return Site.from_model(row)


@strawberry.type(description="A reading shift.")
class Shift:
    starts_at: datetime
    ends_at: datetime
    site_id: strawberry.Private[int]

    @strawberry.field
    async def site(self, info: Info) -> Site:
        row = await info.context.loaders.by_id(m.Site).load(self.site_id)
        assert row is not None
        return Site.from_model(row)


@strawberry.type(description="What is on a radiologist's worklist now.")
class RadiologistLoad:
    studies: int
    wrvu: float
    read_minutes: float = strawberry.field(description="Expected minutes to read it all.")


@strawberry.type(description="A radiologist: credentials, privileges and reading rate.")
class Radiologist(Node):
    code: str
    name: str
    wrvu_per_hour: float
    status: RadiologistStatus
    pk: strawberry.Private[int]

    @classmethod
    def from_model(cls, row: m.Radiologist) -> Radiologist:
        assert row.id is not None
        return cls(
            id=strawberry.ID(to_global_id("Radiologist", row.id)),
            code=row.code,
            name=row.name,
            wrvu_per_hour=row.wrvu_per_hour,
            status=row.status,
            pk=row.id,
        )

    @strawberry.field(description="The shift in progress, if the radiologist is on one.")
    async def shift(self, info: Info) -> Shift | None:
        row = await info.context.loaders.batch("open_shift", open_shifts).load(self.pk)
        return (
            None
            if row is None
            else Shift(starts_at=row.starts_at, ends_at=row.ends_at, site_id=row.site_id)
        )

    @strawberry.field(description="Studies on the worklist now (unread and opened).")
    async def load(self, info: Info) -> RadiologistLoad:
        studies, wrvu, minutes = await info.context.loaders.batch(
            "current_load", current_load
        ).load(self.pk)
        return RadiologistLoad(studies=studies, wrvu=round(wrvu, 2), read_minutes=minutes)

    @strawberry.field(description="Subspecialty credentials.")
    async def subspecialties(self, info: Info) -> list[Subspecialty]:
        rows = await info.context.loaders.children(
            m.RadiologistSubspecialty, "radiologist_id", "subspecialty"
        ).load(self.pk)
        return [r.subspecialty for r in rows]

    @strawberry.field(description="Sites this radiologist may read for.")
    async def privileges(self, info: Info) -> list[SitePrivilege]:
        rows = await info.context.loaders.children(
            m.SitePrivilege, "radiologist_id", "site_id"
        ).load(self.pk)
        return [SitePrivilege(expires_on=r.expires_on, site_id=r.site_id) for r in rows]
