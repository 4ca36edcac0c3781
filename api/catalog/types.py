"""GraphQL types of the department's setup: sites, scanners, procedures, open slots."""

from __future__ import annotations

from datetime import datetime, time

import strawberry

from api.context import Info
from api.enums import CodeSystem, Modality, PatientClass, Priority, ReportFieldType, Subspecialty
from api.relay import Node, to_global_id
from domain import models as m
from domain import reporting
from domain.services.scheduling import Slot


@strawberry.type(description="A hospital or imaging centre.")
class Site(Node):
    code: str
    name: str
    timezone: str = strawberry.field(description="IANA time zone of opening hours.")

    @classmethod
    def from_model(cls, row: m.Site) -> Site:
        assert row.id is not None
        return cls(
            id=strawberry.ID(to_global_id("Site", row.id)),
            code=row.code,
            name=row.name,
            timezone=row.timezone,
        )


@strawberry.type(description="An opening window of a resource, in its site's local time.")
class OpeningWindow:
    weekday: int = strawberry.field(description="0 = Monday ... 6 = Sunday.")
    opens: time
    closes: time


@strawberry.type(description="A scanner or room that exams are booked on.")
class ModalityResource(Node):
    code: str
    name: str
    modality: Modality
    slot_minutes: int
    active: bool
    site_id: strawberry.Private[int]
    pk: strawberry.Private[int]

    @classmethod
    def from_model(cls, row: m.ModalityResource) -> ModalityResource:
        assert row.id is not None
        return cls(
            id=strawberry.ID(to_global_id("ModalityResource", row.id)),
            code=row.code,
            name=row.name,
            modality=row.modality,
            slot_minutes=row.slot_minutes,
            active=row.active,
            site_id=row.site_id,
            pk=row.id,
        )

    @strawberry.field
    async def site(self, info: Info) -> Site:
        row = await info.context.loaders.by_id(m.Site).load(self.site_id)
        assert row is not None
        return Site.from_model(row)

    @strawberry.field(description="Weekly opening hours.")
    async def opening_hours(self, info: Info) -> list[OpeningWindow]:
        rows = await info.context.loaders.children(m.OpeningHours, "resource_id").load(self.pk)
        return [OpeningWindow(weekday=r.weekday, opens=r.opens, closes=r.closes) for r in rows]


@strawberry.type(description="Minutes from availability to final report.")
class TurnaroundTarget:
    priority: Priority
    patient_class: PatientClass
    minutes: int


@strawberry.type(description="A preparation protocol and its checklist.")
class PrepProtocol:
    code: str
    name: str
    patient_instructions: str
    items: list[str]


@strawberry.type(description="One allowed value of a coded report field.")
class CodedValue:
    code: str = strawberry.field(description="What the report stores and the draft sends.")
    meaning: str


@strawberry.type(
    description="A field of a report template: render it, then send its value "
    "in saveReportDraft as `sections[{key: <section key>, fields: [{key, value}]}]`."
)
class ReportTemplateField:
    key: str
    label: str
    required: bool = strawberry.field(description="Must be filled before the report is signed.")
    type: ReportFieldType = strawberry.field(
        description="TEXT: free text up to `maxLength`; CODED: exactly one of `allowedValues`."
    )
    code_system: CodeSystem | None = strawberry.field(description="For CODED fields.")
    allowed_values: list[CodedValue] = strawberry.field(
        description="The codes a CODED field accepts (empty for TEXT)."
    )
    max_length: int

    @classmethod
    def from_domain(cls, f: reporting.TemplateField) -> ReportTemplateField:
        return cls(
            key=f.key,
            label=f.label,
            required=f.required,
            type=f.kind,
            code_system=f.code_system,
            allowed_values=[CodedValue(code=c.code, meaning=c.meaning) for c in f.codes],
            max_length=reporting.TEXT_LIMIT,
        )


@strawberry.type(description="A titled group of fields of a report template.")
class ReportTemplateSection:
    key: str
    title: str
    fields: list[ReportTemplateField]


@strawberry.type(
    description="The structured report a procedure calls for: what a client "
    "renders as the report form, and what must hold before it can be signed."
)
class ReportTemplate:
    code: str
    name: str
    sections: list[ReportTemplateSection]
    impression: ReportTemplateField = strawberry.field(
        description="The report's impression (saveReportDraft's `impression`), always required "
        "to sign."
    )

    @classmethod
    def from_model(cls, row: m.ReportTemplate) -> ReportTemplate:
        sections = reporting.parse_sections(row.sections)
        impression = reporting.TemplateField(
            key=reporting.IMPRESSION, label="Impression", required=True
        )
        return cls(
            code=row.code,
            name=row.name,
            sections=[
                ReportTemplateSection(
                    key=s.key,
                    title=s.title,
                    fields=[ReportTemplateField.from_domain(f) for f in s.fields],
                )
                for s in sections
            ],
            impression=ReportTemplateField.from_domain(impression),
        )


@strawberry.type(description="An entry of the procedure catalog.")
class Procedure(Node):
    code: str
    name: str
    modality: Modality
    body_part: str
    subspecialty: Subspecialty
    wrvu: float = strawberry.field(description="Work RVUs credited for reading it.")
    read_minutes: int = strawberry.field(description="Expected minutes to read.")
    scan_minutes: int = strawberry.field(description="Minutes the scanner is booked for.")
    pk: strawberry.Private[int]
    prep_protocol_id: strawberry.Private[int | None]
    report_template_id: strawberry.Private[int | None]

    @classmethod
    def from_model(cls, row: m.Procedure) -> Procedure:
        assert row.id is not None
        return cls(
            id=strawberry.ID(to_global_id("Procedure", row.id)),
            code=row.code,
            name=row.name,
            modality=row.modality,
            body_part=row.body_part,
            subspecialty=row.subspecialty,
            wrvu=row.wrvu,
            read_minutes=row.read_minutes,
            scan_minutes=row.scan_minutes,
            pk=row.id,
            prep_protocol_id=row.prep_protocol_id,
            report_template_id=row.report_template_id,
        )

    @strawberry.field(description="The structured report this procedure calls for, if any.")
    async def report_template(self, info: Info) -> ReportTemplate | None:
        return await report_template(info, self.report_template_id)

    @strawberry.field(description="Turnaround targets per priority and patient class.")
    async def turnaround_targets(self, info: Info) -> list[TurnaroundTarget]:
        rows = await info.context.loaders.children(m.TurnaroundTarget, "procedure_id").load(self.pk)
        return [
            TurnaroundTarget(priority=r.priority, patient_class=r.patient_class, minutes=r.minutes)
            for r in rows
        ]

    @strawberry.field(description="The preparation the patient needs, if any.")
    async def prep_protocol(self, info: Info) -> PrepProtocol | None:
        if self.prep_protocol_id is None:
            return None
        loaders = info.context.loaders
        protocol = await loaders.by_id(m.PrepProtocol).load(self.prep_protocol_id)
        items = await loaders.children(m.PrepProtocolItem, "protocol_id", "position").load(
            self.prep_protocol_id
        )
        assert protocol is not None
        return PrepProtocol(
            code=protocol.code,
            name=protocol.name,
            patient_instructions=protocol.patient_instructions,
            items=[i.description for i in items],
        )


async def report_template(info: Info, template_id: int | None) -> ReportTemplate | None:
    """The template with this id, batched per request."""
    if template_id is None:
        return None
    row = await info.context.loaders.by_id(m.ReportTemplate).load(template_id)
    return None if row is None else ReportTemplate.from_model(row)


@strawberry.type(description="A free, bookable window on a resource.")
class OpenSlot:
    resource_code: str
    starts_at: datetime
    ends_at: datetime
    resource_id: strawberry.Private[int]

    @classmethod
    def from_slot(cls, slot: Slot) -> OpenSlot:
        return cls(
            resource_code=slot.resource_code,
            starts_at=slot.starts_at,
            ends_at=slot.ends_at,
            resource_id=slot.resource_id,
        )

    @strawberry.field
    async def resource(self, info: Info) -> ModalityResource:
        row = await info.context.loaders.by_id(m.ModalityResource).load(self.resource_id)
        assert row is not None
        return ModalityResource.from_model(row)
