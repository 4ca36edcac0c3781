"""GraphQL types of an exam and everything that happens to it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, datetime
from typing import Any, TypeVar

import strawberry
from graphql.pyutils import AwaitableOrValue
from sqlmodel import SQLModel

from api.catalog.types import ModalityResource, Procedure, ReportTemplate, Site, report_template
from api.context import Info
from api.enums import (
    AppointmentStatus,
    CriticalLevel,
    ExamStatus,
    ExamStep,
    FollowUpStatus,
    IntervalUnit,
    Modality,
    NotificationChannel,
    NotificationStatus,
    NotificationTemplate,
    PatientClass,
    Priority,
    ReadSource,
    RepeatReason,
    ReportStatus,
    Respondent,
    Role,
)
from api.errors import HeaderProblemCode
from api.execution import PREFETCHED
from api.people.types import Patient, Radiologist, Referrer
from api.relay import Node, to_global_id
from api.rules.applied import AppliedRule, applied_rules
from application.planning.rule_effects import explain
from domain import models as m
from domain.access import visible_exam_ids
from domain.audit import touch_exam
from domain.lifecycle import step_of

PREFETCHABLE = {PREFETCHED: True}  # list resolvers may fill these for a whole page
T = TypeVar("T")
M = TypeVar("M", bound=SQLModel)  # a table's row
G = TypeVar("G")  # the GraphQL type built from it

# Relation resolvers below return the DataLoader's awaitable without awaiting it themselves (no
# coroutine of their own per object); `graphql_type` then names the field's type for strawberry.


def _one(awaitable: Awaitable[M | None], build: Callable[[M], G]) -> Awaitable[G | None]:
    async def resolve() -> G | None:
        row = await awaitable
        return None if row is None else build(row)

    return resolve()


def _many(awaitable: Awaitable[list[M]], build: Callable[[M], G]) -> Awaitable[list[G]]:
    async def resolve() -> list[G]:
        return [build(row) for row in await awaitable]

    return resolve()


@strawberry.type(description="An appointment of the exam on a resource.")
class Appointment:
    starts_at: datetime
    ends_at: datetime
    status: AppointmentStatus
    booked_at: datetime
    booked_by: str
    confirmed_at: datetime | None
    cancelled_reason: str | None
    resource_id: strawberry.Private[int]

    @classmethod
    def from_model(cls, r: m.Appointment) -> Appointment:
        return cls(
            starts_at=r.starts_at,
            ends_at=r.ends_at,
            status=r.status,
            booked_at=r.booked_at,
            booked_by=r.booked_by,
            confirmed_at=r.confirmed_at,
            cancelled_reason=r.cancelled_reason,
            resource_id=r.resource_id,
        )

    @strawberry.field(graphql_type=ModalityResource)
    def resource(self, info: Info) -> Awaitable[ModalityResource | None]:
        return _one(
            info.context.loaders.by_id(m.ModalityResource).load(self.resource_id),
            ModalityResource.from_model,
        )


@strawberry.type(description="One item of the exam's prep checklist.")
class PrepItem:
    code: str
    description: str
    completed_at: datetime | None
    completed_by: str | None
    note: str | None

    @classmethod
    def from_model(cls, r: m.ExamPrepItem) -> PrepItem:
        return cls(
            code=r.code,
            description=r.description,
            completed_at=r.completed_at,
            completed_by=r.completed_by,
            note=r.note,
        )


@strawberry.type(description="One acquisition attempt; a repeated one carries its reason.")
class Acquisition:
    attempt: int
    technologist: str
    started_at: datetime
    ended_at: datetime | None
    series_count: int | None
    image_count: int | None
    repeat_reason: RepeatReason | None
    repeat_note: str | None

    @classmethod
    def from_model(cls, r: m.Acquisition) -> Acquisition:
        return cls(
            attempt=r.attempt,
            technologist=r.technologist,
            started_at=r.started_at,
            ended_at=r.ended_at,
            series_count=r.series_count,
            image_count=r.image_count,
            repeat_reason=r.repeat_reason,
            repeat_note=r.repeat_note,
        )


@strawberry.type(description="One mismatch between a study's header and its order.")
class MetadataProblem:
    field: str
    code: HeaderProblemCode
    message: str


@strawberry.type(description="A check of the study's DICOM header against the order.")
class MetadataValidation:
    validated_at: datetime
    validated_by: str
    valid: bool
    corrected: bool
    problems: list[MetadataProblem]

    @classmethod
    def from_model(cls, r: m.MetadataValidation) -> MetadataValidation:
        return cls(
            validated_at=r.validated_at,
            validated_by=r.validated_by,
            valid=r.valid,
            corrected=r.corrected,
            problems=[
                MetadataProblem(
                    field=p["field"], code=HeaderProblemCode(p["code"]), message=p["message"]
                )
                for p in r.problems
            ],
        )


@strawberry.type(description="Where the study is archived and since when it can be read.")
class StoredStudy:
    study_instance_uid: str
    archive_location: str
    available_at: datetime
    series_count: int
    image_count: int

    @classmethod
    def from_model(cls, r: m.StoredStudy) -> StoredStudy:
        return cls(
            study_instance_uid=r.study_instance_uid,
            archive_location=r.archive_location,
            available_at=r.available_at,
            series_count=r.series_count,
            image_count=r.image_count,
        )


@strawberry.type(description="An assignment of the study to a radiologist's worklist.")
class Read:
    source: ReadSource
    assigned_at: datetime
    assigned_by: str
    reason: str = strawberry.field(description="Why this reader.")
    pinned: bool
    opened_at: datetime | None
    ended_at: datetime | None
    end_reason: str | None = strawberry.field(
        description="How it ended: REPORTED, REASSIGNED, UNASSIGNABLE, HANDED_BACK (by its "
        "reader) or RELEASED (by a supervisor, or by itself for an absent reader)."
    )
    end_note: str | None = strawberry.field(description="Who gave the study back and why.")
    radiologist_id: strawberry.Private[int]

    @classmethod
    def from_model(cls, r: m.Read) -> Read:
        return cls(
            source=ReadSource(r.source),
            assigned_at=r.assigned_at,
            assigned_by=r.assigned_by,
            reason=r.reason,
            pinned=r.pinned,
            opened_at=r.opened_at,
            ended_at=r.ended_at,
            end_reason=r.end_reason,
            end_note=r.end_note,
            radiologist_id=r.radiologist_id,
        )

    @strawberry.field(graphql_type=Radiologist)
    def radiologist(self, info: Info) -> Awaitable[Radiologist | None]:
        return _one(
            info.context.loaders.by_id(m.Radiologist).load(self.radiologist_id),
            Radiologist.from_model,
        )


@strawberry.type(description="A field of a report section.")
class ReportField:
    key: str
    value: str


@strawberry.type(description="A section of a structured report.")
class ReportSection:
    key: str
    fields: list[ReportField]


@strawberry.type(description="An addendum to a signed report.")
class Addendum:
    text: str
    created_at: datetime


@strawberry.type(description="The exam's structured report.")
class Report:
    status: ReportStatus
    impression: str
    critical_level: CriticalLevel
    sections: list[ReportSection]
    created_at: datetime
    updated_at: datetime
    preliminary_at: datetime | None
    final_at: datetime | None
    pk: strawberry.Private[int]
    radiologist_id: strawberry.Private[int]

    @classmethod
    def from_model(cls, r: m.Report) -> Report:
        assert r.id is not None
        sections = [
            ReportSection(
                key=k, fields=[ReportField(key=fk, value=str(fv)) for fk, fv in v.items()]
            )
            for k, v in r.content.items()
        ]
        return cls(
            status=r.status,
            impression=r.impression,
            critical_level=r.critical_level,
            sections=sections,
            created_at=r.created_at,
            updated_at=r.updated_at,
            preliminary_at=r.preliminary_at,
            final_at=r.final_at,
            pk=r.id,
            radiologist_id=r.radiologist_id,
        )

    @strawberry.field(graphql_type=Radiologist)
    def author(self, info: Info) -> Awaitable[Radiologist | None]:
        return _one(
            info.context.loaders.by_id(m.Radiologist).load(self.radiologist_id),
            Radiologist.from_model,
        )

    @strawberry.field(
        description="Addenda, oldest first; the signed text itself never changes.",
        graphql_type=list[Addendum],
    )
    def addenda(self, info: Info) -> Awaitable[list[Addendum]]:
        return _many(
            info.context.loaders.children(m.Addendum, "report_id").load(self.pk),
            lambda a: Addendum(text=a.text, created_at=a.created_at),
        )


@strawberry.type(description="A result sent to the referrer; critical ones need acknowledgement.")
class ResultCommunication:
    critical_level: CriticalLevel = strawberry.field(description="The finding's category.")
    finding: str
    identified_at: datetime | None = strawberry.field(
        description="When the finding was identified: the report's first signing."
    )
    window_minutes: int | None = strawberry.field(
        description="The category's acknowledgement window when it was communicated."
    )
    channel: NotificationChannel = strawberry.field(
        description="The channel the result's message was queued on."
    )
    notified_at: datetime
    notified_by: str = strawberry.field(description="Who communicated it.")
    received_by_kind: str | None = strawberry.field(
        description="Who it reached first: `referrer`, `supervisor` (the department's line) "
        "or `person` (named by the communicator); null until it reached someone."
    )
    received_by_name: str | None = strawberry.field(
        description="The referrer's name, `radiology supervisor`, or the name recorded."
    )
    received_at: datetime | None
    received_via: NotificationChannel | None = strawberry.field(
        description="The channel that reached them: the sent message's, or the one the "
        "communicator recorded."
    )
    acknowledge_by: datetime | None
    acknowledged_at: datetime | None = strawberry.field(
        description="When the recipient acknowledged (or read it back)."
    )
    acknowledged_by: str | None = strawberry.field(description="Who recorded the acknowledgement.")
    read_back_by: str | None = strawberry.field(
        description="Who read the result back, when acknowledged on their behalf."
    )
    read_back_via: NotificationChannel | None
    escalated_at: datetime | None
    escalation_count: int
    escalated_to_kind: str | None = strawberry.field(
        description="The latest escalation step's recipient: `referrer` (the covering "
        "physician) or `supervisor`."
    )
    escalated_via: NotificationChannel | None

    @classmethod
    def from_model(cls, r: m.ResultCommunication) -> ResultCommunication:
        return cls(
            critical_level=r.critical_level,
            finding=r.finding,
            identified_at=r.identified_at,
            window_minutes=r.window_minutes,
            channel=r.channel,
            notified_at=r.notified_at,
            notified_by=r.notified_by,
            received_by_kind=r.received_by_kind,
            received_by_name=r.received_by_name,
            received_at=r.received_at,
            received_via=r.received_via,
            acknowledge_by=r.acknowledge_by,
            acknowledged_at=r.acknowledged_at,
            acknowledged_by=r.acknowledged_by,
            read_back_by=r.read_back_by,
            read_back_via=r.read_back_via,
            escalated_at=r.escalated_at,
            escalation_count=r.escalation_count,
            escalated_to_kind=r.escalated_to_kind,
            escalated_via=r.escalated_via,
        )


async def _visible_exam(info: Info, pk: int) -> Exam | None:
    """The exam, if the caller may see it (a follow-up's commands do not check its exams)."""
    actor = info.context.actor
    if pk not in await info.context.db.read(lambda s: visible_exam_ids(s, actor, [pk])):
        return None
    row = await info.context.loaders.by_id(m.Exam).load(pk)
    return None if row is None else Exam.from_model(row)


@strawberry.type(description="A recommended follow-up, tracked to completion.")
class FollowUp(Node):
    recommendation: str
    procedure_code: str | None
    modality: Modality | None = strawberry.field(
        description="The recommended modality (null on follow-ups recorded before it was kept "
        "without a procedure)."
    )
    body_region: str | None
    interval_count: int | None = strawberry.field(description="With intervalUnit: e.g. 3 MONTHS.")
    interval_unit: IntervalUnit | None
    reason: str | None
    due_on: date
    status: FollowUpStatus
    created_at: datetime
    completed_at: datetime | None
    escalation_count: int = strawberry.field(
        description="How many times it was escalated while overdue with no exam ordered."
    )
    escalated_at: datetime | None
    pk: strawberry.Private[int]
    exam_id: strawberry.Private[int]
    completed_exam_pk: strawberry.Private[int | None]

    @strawberry.field(description="Open and past its due date (today, in UTC).")
    def overdue(self, info: Info) -> bool:
        today = info.context.db.clock().date()
        return self.status == FollowUpStatus.OPEN and self.due_on < today

    @strawberry.field(
        description="The exam whose report recommended it (if the caller may see it)."
    )
    async def exam(self, info: Info) -> Exam | None:
        return await _visible_exam(info, self.exam_id)

    @strawberry.field(
        description="The exam that fulfils it: linked when ordered, completing it when final."
    )
    async def fulfilled_by(self, info: Info) -> Exam | None:
        # Another referrer's order for the same patient is not this caller's to see.
        pk = self.completed_exam_pk
        return None if pk is None else await _visible_exam(info, pk)

    @classmethod
    def from_model(cls, r: m.FollowUpRecommendation) -> FollowUp:
        assert r.id is not None
        return cls(
            id=strawberry.ID(to_global_id("FollowUp", r.id)),
            pk=r.id,
            recommendation=r.recommendation,
            procedure_code=r.procedure_code,
            modality=r.modality,
            body_region=r.body_region,
            interval_count=r.interval_count,
            interval_unit=r.interval_unit,
            reason=r.reason,
            due_on=r.due_on,
            status=r.status,
            created_at=r.created_at,
            completed_at=r.completed_at,
            escalation_count=r.escalation_count,
            escalated_at=r.escalated_at,
            exam_id=r.exam_id,
            completed_exam_pk=r.completed_exam_id,
        )


@strawberry.type(description="A satisfaction survey answer.")
class Survey:
    respondent: Respondent
    score: int
    comment: str | None
    submitted_at: datetime

    @classmethod
    def from_model(cls, r: m.SatisfactionSurvey) -> Survey:
        return cls(
            respondent=r.respondent, score=r.score, comment=r.comment, submitted_at=r.submitted_at
        )


@strawberry.type(description="A queued message to the patient or referrer.")
class Notification:
    recipient_kind: str
    channel: NotificationChannel
    template: NotificationTemplate
    send_at: datetime
    status: NotificationStatus

    @classmethod
    def from_model(cls, r: m.Notification) -> Notification:
        return cls(
            recipient_kind=r.recipient_kind,
            channel=r.channel,
            template=r.template,
            send_at=r.send_at,
            status=r.status,
        )


@strawberry.type(description="One entry of the exam's append-only history.")
class StatusChange:
    step: ExamStep = strawberry.field(
        description="What was done (the same name as in status events and InvalidTransition)."
    )
    from_status: ExamStatus | None
    to_status: ExamStatus
    actor: str
    role: Role
    at: datetime
    reason: str | None

    @classmethod
    def from_model(cls, r: m.ExamStatusChange) -> StatusChange:
        return cls(
            step=step_of(r.event),
            from_status=r.from_status,
            to_status=r.to_status,
            actor=r.actor,
            role=r.role,
            at=r.at,
            reason=r.reason,
        )


@strawberry.type(description="The clinical indication of an order.")
class Indication:
    text: str
    icd10_code: str


# The exam row's columns `Exam.from_model` copies as they are (the indication's two are nested).
_EXAM_COPIED = (
    "accession_number",
    "status",
    "priority",
    "patient_class",
    "order_source",
    "placer_order_number",
    "ordered_at",
    "status_changed_at",
    "ready_at",
    "due_at",
    "version",
    "patient_id",
    "referrer_id",
    "procedure_id",
    "site_id",
)
_EXAM_FIELDS = frozenset((*_EXAM_COPIED, "indication", "icd10_code"))


@strawberry.type(description="An ordered exam, from the order to the archive.")
class Exam(Node):
    accession_number: str
    status: ExamStatus
    priority: Priority
    patient_class: PatientClass
    order_source: str
    placer_order_number: str
    indication: Indication
    ordered_at: datetime
    status_changed_at: datetime
    ready_at: datetime | None = strawberry.field(description="When the study became readable.")
    due_at: datetime | None = strawberry.field(description="When the final report is due.")
    version: int = strawberry.field(
        description="Changes with every update; pass it as expectedVersion to avoid lost updates."
    )
    pk: strawberry.Private[int]
    patient_id: strawberry.Private[int]
    referrer_id: strawberry.Private[int]
    procedure_id: strawberry.Private[int]
    site_id: strawberry.Private[int]
    # Filled by list resolvers that fetched these for a whole page in one statement each.
    prefetched: strawberry.Private[dict[str, Any]]

    @classmethod
    def from_model(cls, r: m.Exam) -> Exam:
        assert r.id is not None
        touch_exam(r.id)
        # A loaded row keeps its columns in its __dict__: read there, not through the ORM's
        # descriptor per column (a column not loaded yet goes through it and loads).
        loaded = r.__dict__
        v = loaded if loaded.keys() >= _EXAM_FIELDS else {k: getattr(r, k) for k in _EXAM_FIELDS}
        return cls(
            id=strawberry.ID(to_global_id("Exam", r.id)),
            indication=Indication(text=v["indication"], icd10_code=v["icd10_code"]),
            pk=r.id,
            prefetched={},
            **{name: v[name] for name in _EXAM_COPIED},
        )

    def _related(
        self, info: Info, name: str, model: type[M], key: int, build: Callable[[M], G]
    ) -> AwaitableOrValue[G | None]:
        if name in self.prefetched:
            built: G | None = self.prefetched[name]  # `build(row)`, by api.exams.queries
            return built
        return _one(info.context.loaders.by_id(model).load(key), build)

    @strawberry.field(metadata=PREFETCHABLE, graphql_type=Patient)
    def patient(self, info: Info) -> AwaitableOrValue[Patient | None]:
        return self._related(info, "patient", m.Patient, self.patient_id, Patient.from_model)

    @strawberry.field(metadata=PREFETCHABLE, graphql_type=Referrer)
    def referrer(self, info: Info) -> AwaitableOrValue[Referrer | None]:
        return self._related(info, "referrer", m.Referrer, self.referrer_id, Referrer.from_model)

    @strawberry.field(metadata=PREFETCHABLE, graphql_type=Procedure)
    def procedure(self, info: Info) -> AwaitableOrValue[Procedure | None]:
        return self._related(
            info, "procedure", m.Procedure, self.procedure_id, Procedure.from_model
        )

    @strawberry.field(metadata=PREFETCHABLE, graphql_type=Site)
    def site(self, info: Info) -> AwaitableOrValue[Site | None]:
        return self._related(info, "site", m.Site, self.site_id, Site.from_model)

    def _children(
        self, info: Info, model: type[M], build: Callable[[M], G], order_by: str = "id"
    ) -> Awaitable[list[G]]:
        return _many(info.context.loaders.children(model, "exam_id", order_by).load(self.pk), build)

    @strawberry.field(
        description="The template its report follows (its procedure's): render "
        "the report form from it."
    )
    async def report_template(self, info: Info) -> ReportTemplate | None:
        procedure = await info.context.loaders.by_id(m.Procedure).load(self.procedure_id)
        return (
            None if procedure is None else await report_template(info, procedure.report_template_id)
        )

    @strawberry.field(
        description="The structured report, if reading has begun.",
        metadata=PREFETCHABLE,
        graphql_type=Report | None,
    )
    def report(self, info: Info) -> AwaitableOrValue[Report | None]:
        if "report" in self.prefetched:
            built: Report | None = self.prefetched["report"]  # by api.exams.queries
            return built
        return _first(self._children(info, m.Report, Report.from_model))

    @strawberry.field(
        description="The live appointment (booked, confirmed or arrived), if any.",
        graphql_type=Appointment | None,
    )
    def appointment(self, info: Info) -> Awaitable[Appointment | None]:
        live = {"BOOKED", "CONFIRMED", "ARRIVED"}
        return _last(
            self._children(info, m.Appointment, Appointment.from_model),
            lambda a: a.status.value in live,
        )

    @strawberry.field(
        description="Every appointment, including cancelled and moved ones.",
        graphql_type=list[Appointment],
    )
    def appointments(self, info: Info) -> Awaitable[list[Appointment]]:
        return self._children(info, m.Appointment, Appointment.from_model)

    @strawberry.field(description="The prep checklist, in order.", graphql_type=list[PrepItem])
    def prep_checklist(self, info: Info) -> Awaitable[list[PrepItem]]:
        return self._children(info, m.ExamPrepItem, PrepItem.from_model, "position")

    @strawberry.field(
        description="Acquisition attempts, first to last.", graphql_type=list[Acquisition]
    )
    def acquisitions(self, info: Info) -> Awaitable[list[Acquisition]]:
        return self._children(info, m.Acquisition, Acquisition.from_model, "attempt")

    @strawberry.field(
        description="Metadata checks, oldest first.", graphql_type=list[MetadataValidation]
    )
    def metadata_validations(self, info: Info) -> Awaitable[list[MetadataValidation]]:
        return self._children(info, m.MetadataValidation, MetadataValidation.from_model)

    @strawberry.field(
        description="The stored study, once it is in the archive.",
        graphql_type=StoredStudy | None,
    )
    def study(self, info: Info) -> Awaitable[StoredStudy | None]:
        return _first(self._children(info, m.StoredStudy, StoredStudy.from_model))

    @strawberry.field(
        description="The current read (whose worklist the study is on).",
        graphql_type=Read | None,
    )
    def assignment(self, info: Info) -> Awaitable[Read | None]:
        return _last(
            self._children(info, m.Read, Read.from_model),
            lambda r: r.ended_at is None,
        )

    @strawberry.field(
        description="Every read of the study, including reassigned ones.", graphql_type=list[Read]
    )
    def reads(self, info: Info) -> Awaitable[list[Read]]:
        return self._children(info, m.Read, Read.from_model)

    @strawberry.field(
        description="Results sent to the referrer.", graphql_type=list[ResultCommunication]
    )
    def communications(self, info: Info) -> Awaitable[list[ResultCommunication]]:
        return self._children(info, m.ResultCommunication, ResultCommunication.from_model)

    @strawberry.field(graphql_type=list[FollowUp])
    def follow_ups(self, info: Info) -> Awaitable[list[FollowUp]]:
        return self._children(info, m.FollowUpRecommendation, FollowUp.from_model)

    @strawberry.field(graphql_type=list[Survey])
    def surveys(self, info: Info) -> Awaitable[list[Survey]]:
        return self._children(info, m.SatisfactionSurvey, Survey.from_model)

    @strawberry.field(graphql_type=list[Notification])
    def notifications(self, info: Info) -> Awaitable[list[Notification]]:
        return self._children(info, m.Notification, Notification.from_model)

    @strawberry.field(
        description="Rules of the active rule set that fire for this exam now, "
        "and what each changed (or tried to, when overridden)."
    )
    async def applied_rules(self, info: Info) -> list[AppliedRule]:
        now = info.context.db.clock()
        effect = await info.context.db.read(lambda s: explain(s, self.pk, now), bounded=True)
        return applied_rules(effect)

    @strawberry.field(
        description="Every status change, oldest first: who, when, why.",
        graphql_type=list[StatusChange],
    )
    def history(self, info: Info) -> Awaitable[list[StatusChange]]:
        return self._children(info, m.ExamStatusChange, StatusChange.from_model)


def _first(awaitable: Awaitable[list[T]]) -> Awaitable[T | None]:
    async def resolve() -> T | None:
        rows = await awaitable
        return rows[0] if rows else None

    return resolve()


def _last(awaitable: Awaitable[list[T]], keep: Callable[[T], bool]) -> Awaitable[T | None]:
    async def resolve() -> T | None:
        rows = [r for r in await awaitable if keep(r)]
        return rows[-1] if rows else None

    return resolve()
