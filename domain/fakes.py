"""An in-memory unit of work: the repositories of domain/repositories.py over lists of rows.

A service runs on it exactly as on the database (the same model objects, the same events),
so its rules are tested without one. It lives in the domain, beside the protocols it answers,
so that the application layer's tests and the future transports' (HL7, FHIR, DICOM) can build
on it as well as tests/unit does.

What it does not model: the database's own work (version counters bumped on write, cascades,
SQL constraints other than the ones a repository promises to check: a placer order's
uniqueness and a slot's single claim). New rows get their ids as they are staged.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import date, datetime
from itertools import count
from typing import TYPE_CHECKING, Any, TypeVar

from sqlmodel import SQLModel

from domain.access import ScopeKind, scope_of
from domain.enums import (
    MUST_ACKNOWLEDGE,
    AppointmentStatus,
    ExamStatus,
    FollowUpStatus,
    Modality,
    NotificationChannel,
    NotificationStatus,
    NotificationTemplate,
    PatientClass,
    Priority,
    Respondent,
    Subspecialty,
)
from domain.events import DomainEvent
from domain.lifecycle import Actor
from domain.models import (
    Acquisition,
    Appointment,
    BalancerRun,
    Exam,
    ExamPrepItem,
    FollowUpRecommendation,
    MetadataValidation,
    Notification,
    OpeningHours,
    Patient,
    PrepProtocolItem,
    Procedure,
    Radiologist,
    RadiologistSubspecialty,
    Read,
    ReadingPace,
    Referrer,
    Report,
    ResultCommunication,
    RuleSetActivation,
    RuleSetVersion,
    SatisfactionSurvey,
    Shift,
    Site,
    SitePrivilege,
    SlotClaim,
    StoredStudy,
    TurnaroundTarget,
)
from domain.models._columns import core_table
from domain.repositories import (
    AcquisitionStart,
    OrderParties,
    ReaderStanding,
    StorageFacts,
    UnitOfWork,
)
from domain.types import utcnow

M = TypeVar("M", bound=SQLModel)
LIVE_APPOINTMENT = {
    AppointmentStatus.BOOKED,
    AppointmentStatus.CONFIRMED,
    AppointmentStatus.ARRIVED,
}


def _key_names(model: type[SQLModel]) -> list[str]:
    return [c.name for c in core_table(model).primary_key.columns]


class Rows:
    """Every staged row, by model, in the order staged; ids drawn as rows arrive."""

    def __init__(self) -> None:
        self.tables: dict[type[SQLModel], list[SQLModel]] = {}
        self._ids = count(1)

    def add(self, row: SQLModel) -> None:
        names = _key_names(type(row))
        if len(names) == 1 and getattr(row, names[0]) is None:
            setattr(row, names[0], next(self._ids))
        self.tables.setdefault(type(row), []).append(row)

    def all(self, model: type[M]) -> list[M]:
        return list(self.tables.get(model, []))  # type: ignore[arg-type]

    def where(self, model: type[M], test: Callable[[M], bool]) -> list[M]:
        return [row for row in self.all(model) if test(row)]

    def first(self, model: type[M], test: Callable[[M], bool]) -> M | None:
        return next(iter(self.where(model, test)), None)

    def get(self, model: type[M], key: Any) -> M | None:
        names = _key_names(model)
        wanted = key if isinstance(key, tuple) else (key,)
        return self.first(model, lambda r: tuple(getattr(r, n) for n in names) == wanted)

    def remove(self, model: type[M], test: Callable[[M], bool]) -> None:
        self.tables[model] = [r for r in self.tables.get(model, []) if not test(r)]  # type: ignore[arg-type]


class FakeExams:
    def __init__(self, rows: Rows) -> None:
        self.rows = rows
        self.touched: list[Exam] = []

    def get(self, exam_id: int) -> Exam | None:
        return self.rows.get(Exam, exam_id)

    def by_placer_order(self, source: str, placer: str, scope: str) -> Exam | None:
        return self.rows.first(
            Exam,
            lambda e: (
                (e.order_source, e.placer_order_number, e.placer_scope) == (source, placer, scope)
            ),
        )

    def order_parties(
        self, *, source: str, placer: str, scope: str, patient_mrn: str, referrer_code: str
    ) -> OrderParties:
        return OrderParties(
            patient=self.rows.first(Patient, lambda p: p.mrn == patient_mrn),
            referrer=self.rows.first(Referrer, lambda r: r.code == referrer_code),
            existing=self.by_placer_order(source, placer, scope),
        )

    def add_order(self, exam: Exam) -> bool:
        if self.by_placer_order(exam.order_source, exam.placer_order_number, exam.placer_scope):
            return False
        self.rows.add(exam)
        return True

    def visible_to(self, actor: Actor, exam_ids: list[int]) -> set[int]:
        scope = scope_of(actor)
        return {e for e in exam_ids if self._sees(scope.kind, scope.subject, scope.sites, e)}

    def _sees(self, kind: ScopeKind, subject: str, sites: tuple[str, ...], exam_id: int) -> bool:
        exam = self.get(exam_id)
        if exam is None:
            return False
        if kind is ScopeKind.ALL:
            return True
        if kind is ScopeKind.REFERRER:
            referrer = self.rows.get(Referrer, exam.referrer_id)
            return referrer is not None and referrer.code == subject
        if kind is ScopeKind.PATIENT:
            patient = self.rows.get(Patient, exam.patient_id)
            return patient is not None and patient.mrn == subject
        if kind is ScopeKind.SITES:
            site = self.rows.get(Site, exam.site_id)
            return site is not None and site.code in sites
        if kind is ScopeKind.READER:
            readers = {
                r.radiologist_id for r in self.rows.where(Read, lambda r: r.exam_id == exam_id)
            }
            return any(
                (reader := self.rows.get(Radiologist, rid)) is not None and reader.code == subject
                for rid in readers
            )
        return False

    def touch(self, exam: Exam) -> None:
        self.touched.append(exam)

    def waiting_among(self, exam_ids: list[int]) -> set[int]:
        return {
            e
            for e in exam_ids
            if (exam := self.get(e)) is not None and exam.status == ExamStatus.READY_FOR_READ
        }

    def of_patient(self, patient_id: int) -> list[Exam]:
        mine = [e for e in self.rows.all(Exam) if e.patient_id == patient_id]
        return sorted(mine, key=lambda e: (e.ordered_at, e.id or 0))


class FakeDepartment:
    def __init__(self, rows: Rows) -> None:
        self.rows = rows

    def get(self, model: type[M], key: Any) -> M | None:
        return self.rows.get(model, key)

    def find(self, model: type[M], column: str, value: object) -> M | None:
        return self.rows.first(model, lambda r: getattr(r, column) == value)

    def left_out_last_run(self) -> frozenset[int]:
        runs = self.rows.all(BalancerRun)
        last = max(runs, key=lambda r: r.id or 0, default=None)
        return frozenset(int(u["exam_id"]) for u in (last.unassignable if last else ()))

    def body_region(self, modality: Modality, region: str) -> str | None:
        wanted = region.strip().upper()
        found = self.rows.first(
            Procedure,
            lambda p: p.modality == modality and p.active and p.body_part.upper() == wanted,
        )
        return None if found is None else found.body_part

    def turnaround_minutes(
        self, procedure_id: int, priority: Priority, patient_class: PatientClass
    ) -> int | None:
        target = self.rows.first(
            TurnaroundTarget,
            lambda t: (
                (t.procedure_id, t.priority, t.patient_class)
                == (procedure_id, priority, patient_class)
            ),
        )
        return None if target is None else target.minutes

    def opening_hours(self, resource_id: int) -> list[OpeningHours]:
        return self.rows.where(OpeningHours, lambda h: h.resource_id == resource_id)

    def reader_standing(
        self, code: str, *, subspecialty: Subspecialty, site_id: int, now: datetime
    ) -> ReaderStanding | None:
        reader = self.find(Radiologist, "code", code)
        if reader is None:
            return None
        privilege = self.rows.get(SitePrivilege, (reader.id, site_id))
        shifts = self.rows.where(
            Shift,
            lambda s: s.radiologist_id == reader.id and s.ended_at is None and s.starts_at <= now,
        )
        return ReaderStanding(
            radiologist=reader,
            credentialed=self.rows.get(RadiologistSubspecialty, (reader.id, subspecialty))
            is not None,
            privileged=privilege is not None,
            privilege_expires_on=None if privilege is None else privilege.expires_on,
            shift_ends_at=max((s.ends_at for s in shifts), default=None),
        )


class FakePrepChecklists:
    def __init__(self, rows: Rows) -> None:
        self.rows = rows

    def items(self, exam_id: int) -> list[ExamPrepItem]:
        return self.rows.where(ExamPrepItem, lambda i: i.exam_id == exam_id)

    def open_count(self, exam_id: int) -> int:
        return sum(1 for i in self.items(exam_id) if i.completed_at is None)

    def item_and_others_open(self, exam_id: int, code: str) -> tuple[ExamPrepItem, int] | None:
        checklist = self.items(exam_id)
        item = next((i for i in checklist if i.code == code), None)
        if item is None:
            return None
        return item, sum(1 for i in checklist if i is not item and i.completed_at is None)

    def copy_protocol(self, exam_id: int, protocol_id: int) -> None:
        protocol = self.rows.where(PrepProtocolItem, lambda i: i.protocol_id == protocol_id)
        for item in sorted(protocol, key=lambda i: i.position):
            self.rows.add(
                ExamPrepItem(
                    exam_id=exam_id,
                    position=item.position,
                    code=item.code,
                    description=item.description,
                )
            )


class FakeAcquisitions:
    def __init__(self, rows: Rows) -> None:
        self.rows = rows

    def attempts(self, exam_id: int) -> list[Acquisition]:
        found = self.rows.where(Acquisition, lambda a: a.exam_id == exam_id)
        return sorted(found, key=lambda a: a.attempt)

    def latest_validation(self, exam_id: int) -> MetadataValidation | None:
        found = self.rows.where(MetadataValidation, lambda v: v.exam_id == exam_id)
        return found[-1] if found else None

    def before_start(self, exam_id: int) -> AcquisitionStart:
        items = self.rows.where(ExamPrepItem, lambda i: i.exam_id == exam_id)
        return AcquisitionStart(
            attempts=len(self.attempts(exam_id)),
            open_prep_items=sum(1 for i in items if i.completed_at is None),
        )

    def storage_facts(self, exam_id: int, uid: str) -> StorageFacts:
        latest = self.latest_validation(exam_id)
        attempts = self.attempts(exam_id)
        last = attempts[-1] if attempts else None
        return StorageFacts(
            uid_taken=self.rows.first(StoredStudy, lambda s: s.study_instance_uid == uid)
            is not None,
            metadata_valid=latest is not None
            and latest.valid
            and last is not None
            and latest.attempt == last.attempt,
            series_count=None if last is None else last.series_count,
            image_count=None if last is None else last.image_count,
        )


class FakeAppointments:
    def __init__(self, rows: Rows) -> None:
        self.rows = rows

    def live(self, exam_id: int) -> Appointment | None:
        found = self.rows.where(
            Appointment, lambda a: a.exam_id == exam_id and a.status in LIVE_APPOINTMENT
        )
        return found[-1] if found else None

    def claim_slots(
        self, resource_id: int, starts: Sequence[datetime], appointment_id: int
    ) -> bool:
        taken = {(c.resource_id, c.slot_start) for c in self.rows.all(SlotClaim)}
        if any((resource_id, s) in taken for s in starts):
            return False
        for s in starts:
            self.rows.add(
                SlotClaim(resource_id=resource_id, slot_start=s, appointment_id=appointment_id)
            )
        return True

    def free_slots(self, appointment_id: int) -> None:
        self.rows.remove(SlotClaim, lambda c: c.appointment_id == appointment_id)

    def unattended(self, ended_before: datetime, limit: int) -> list[Appointment]:
        waiting = {AppointmentStatus.BOOKED, AppointmentStatus.CONFIRMED}
        found = self.rows.where(
            Appointment, lambda a: a.status in waiting and a.ends_at < ended_before
        )
        return sorted(found, key=lambda a: (a.ends_at, a.id or 0))[:limit]


class FakeNotifications:
    def __init__(self, rows: Rows) -> None:
        self.rows = rows

    def get(self, notification_id: int) -> Notification | None:
        return self.rows.get(Notification, notification_id)

    def queued_for(
        self, exam_id: int, templates: Collection[NotificationTemplate]
    ) -> list[Notification]:
        return self.rows.where(
            Notification,
            lambda n: (
                n.exam_id == exam_id
                and n.status == NotificationStatus.QUEUED
                and n.template in templates
            ),
        )

    def due(
        self, now: datetime, limit: int, channels: Collection[NotificationChannel]
    ) -> list[Notification]:
        def test(n: Notification) -> bool:
            return (
                n.status == NotificationStatus.QUEUED
                and n.channel in channels
                and n.send_at <= now
                and (n.next_attempt_at is None or n.next_attempt_at <= now)
                and (n.claimed_until is None or n.claimed_until <= now)
            )

        found = self.rows.where(Notification, test)
        return sorted(found, key=lambda n: (n.send_at, n.id or 0))[:limit]


class FakeReads:
    def __init__(self, rows: Rows) -> None:
        self.rows = rows

    def current(self, exam_id: int) -> Read | None:
        return self.rows.first(Read, lambda r: r.exam_id == exam_id and r.ended_at is None)

    def current_with_reader(self, exam_id: int) -> tuple[Read, Radiologist] | None:
        read = self.current(exam_id)
        reader = None if read is None else self.rows.get(Radiologist, read.radiologist_id)
        return None if read is None or reader is None else (read, reader)

    def current_with_report(self, exam_id: int) -> tuple[Read, Radiologist, Report | None] | None:
        found = self.current_with_reader(exam_id)
        if found is None:
            return None
        report = self.rows.first(Report, lambda r: r.exam_id == exam_id)
        return (*found, report)

    def current_for(self, exam_ids: list[int]) -> dict[int, Read]:
        wanted = set(exam_ids)
        return {
            r.exam_id: r
            for r in self.rows.where(Read, lambda r: r.exam_id in wanted and r.ended_at is None)
        }

    def _open_in_interpretation(self) -> list[Read]:
        def test(read: Read) -> bool:
            exam = self.rows.get(Exam, read.exam_id)
            return (
                read.ended_at is None
                and read.opened_at is not None
                and exam is not None
                and exam.status == ExamStatus.IN_INTERPRETATION
            )

        return self.rows.where(Read, test)

    def opened_by(self, radiologist_id: int) -> list[int]:
        opened = self._open_in_interpretation()
        return sorted(r.exam_id for r in opened if r.radiologist_id == radiologist_id)

    def opened_in_interpretation(self) -> list[tuple[Read, Priority, Radiologist]]:
        found = []
        for read in sorted(self._open_in_interpretation(), key=lambda r: r.opened_at or utcnow()):
            exam, reader = (
                self.rows.get(Exam, read.exam_id),
                self.rows.get(Radiologist, read.radiologist_id),
            )
            assert exam is not None and reader is not None
            found.append((read, exam.priority, reader))
        return found

    def end_many(self, reads: Sequence[Read], at: datetime, unassignable: set[int]) -> None:
        for read in reads:
            read.ended_at = at
            read.end_reason = "UNASSIGNABLE" if read.exam_id in unassignable else "REASSIGNED"

    def start_many(self, rows: Sequence[Mapping[str, Any]]) -> None:
        for row in rows:
            self.rows.add(Read(**row))

    def last_endings(self, exam_ids: list[int]) -> dict[int, tuple[str | None, str | None]]:
        wanted = set(exam_ids)
        return {
            r.exam_id: (r.end_reason, r.end_note)
            for r in self.rows.where(Read, lambda r: r.exam_id in wanted)
        }

    def record_pace(
        self, *, radiologist_id: int, procedure_group: str, log_ratio: float, at: datetime
    ) -> None:
        key = (radiologist_id, procedure_group)
        row = self.rows.first(ReadingPace, lambda p: (p.radiologist_id, p.procedure_group) == key)
        if row is None:
            row = ReadingPace(
                radiologist_id=radiologist_id, procedure_group=procedure_group, updated_at=at
            )
            self.rows.add(row)
        row.reads += 1
        row.log_sum += log_ratio
        row.log_square_sum += log_ratio * log_ratio
        row.updated_at = at


class FakeReports:
    def __init__(self, rows: Rows) -> None:
        self.rows = rows

    def of_exam(self, exam_id: int) -> Report | None:
        return self.rows.first(Report, lambda r: r.exam_id == exam_id)

    def latest_communication_and_recipients(
        self, exam_id: int
    ) -> tuple[ResultCommunication, frozenset[str]] | None:
        communication = self.latest_communication(exam_id)
        if communication is None:
            return None
        ids = {communication.referrer_id}
        if communication.escalated_to_kind == "referrer" and communication.escalated_to_id:
            ids.add(communication.escalated_to_id)
        if communication.received_by_kind == "referrer" and communication.received_by_id:
            ids.add(communication.received_by_id)
        found = (self.rows.get(Referrer, i) for i in ids)
        return communication, frozenset(r.code for r in found if r is not None)

    def with_recipients(self, exam_id: int) -> tuple[Report | None, Referrer, Patient]:
        exam = self.rows.get(Exam, exam_id)
        assert exam is not None
        referrer = self.rows.get(Referrer, exam.referrer_id)
        patient = self.rows.get(Patient, exam.patient_id)
        assert referrer is not None and patient is not None
        return self.of_exam(exam_id), referrer, patient

    def latest_communication(self, exam_id: int) -> ResultCommunication | None:
        found = self.rows.where(ResultCommunication, lambda c: c.exam_id == exam_id)
        return found[-1] if found else None

    def communication(self, communication_id: int) -> ResultCommunication | None:
        return self.rows.first(ResultCommunication, lambda c: c.id == communication_id)

    def unacknowledged_critical(self, exam_id: int) -> int:
        return len(
            self.rows.where(
                ResultCommunication,
                lambda c: (
                    c.exam_id == exam_id
                    and c.critical_level in MUST_ACKNOWLEDGE
                    and c.acknowledged_at is None
                ),
            )
        )

    def overdue_communications(self, now: datetime) -> list[ResultCommunication]:
        return self.rows.where(
            ResultCommunication,
            lambda c: (
                c.acknowledged_at is None
                and c.acknowledge_by is not None
                and c.acknowledge_by <= now
            ),
        )

    def critical_not_communicated(self, limit: int) -> list[tuple[Report, Exam]]:
        found = []
        for report in self.rows.all(Report):
            exam = self.rows.get(Exam, report.exam_id)
            if (
                exam is not None
                and exam.status == ExamStatus.FINAL
                and report.critical_level in MUST_ACKNOWLEDGE
            ):
                found.append((report, exam))
        return sorted(found, key=lambda pair: pair[0].final_at or pair[0].created_at)[:limit]

    def follow_up(self, follow_up_id: int) -> FollowUpRecommendation | None:
        return self.rows.get(FollowUpRecommendation, follow_up_id)

    def follow_ups_fallen_due(self, on: date, limit: int) -> list[FollowUpRecommendation]:
        found = self.rows.where(
            FollowUpRecommendation,
            lambda f: (
                f.status == FollowUpStatus.OPEN and f.due_on <= on and f.due_notified_at is None
            ),
        )
        return sorted(found, key=lambda f: (f.due_on, f.id or 0))[:limit]

    def follow_up_candidates(self, limit: int) -> list[tuple[FollowUpRecommendation, Exam]]:
        found = []
        unfulfilling = {ExamStatus.CANCELLED, ExamStatus.NO_SHOW}
        for follow_up in self.rows.all(FollowUpRecommendation):
            if follow_up.status != FollowUpStatus.OPEN or follow_up.completed_exam_id is not None:
                continue
            origin = self.rows.get(Exam, follow_up.exam_id)
            if origin is None or follow_up.modality is None or follow_up.body_region is None:
                continue
            wanted = (follow_up.modality, follow_up.body_region.upper())
            for exam in sorted(self.rows.all(Exam), key=lambda e: (e.ordered_at, e.id or 0)):
                offered = self.rows.get(Procedure, exam.procedure_id)
                if (
                    exam.patient_id == origin.patient_id
                    and exam.id != origin.id
                    and (
                        exam.ordered_at >= follow_up.created_at
                        or (exam.ready_at is not None and exam.ready_at >= follow_up.created_at)
                    )
                    and exam.status not in unfulfilling
                    and offered is not None
                    and (offered.modality, offered.body_part.upper()) == wanted
                ):
                    found.append((follow_up, exam))
        return found[:limit]

    def follow_ups_overdue(self, on: date, limit: int) -> list[FollowUpRecommendation]:
        found = self.rows.where(
            FollowUpRecommendation,
            lambda f: (
                f.status == FollowUpStatus.OPEN and f.due_on < on and f.completed_exam_id is None
            ),
        )
        return sorted(found, key=lambda f: (f.due_on, f.id or 0))[:limit]

    def linked_follow_ups(self, limit: int) -> list[tuple[FollowUpRecommendation, Exam]]:
        found = []
        for follow_up in self.rows.all(FollowUpRecommendation):
            exam = (
                self.rows.get(Exam, follow_up.completed_exam_id)
                if follow_up.completed_exam_id is not None
                else None
            )
            if follow_up.status == FollowUpStatus.OPEN and exam is not None:
                found.append((follow_up, exam))
        return found[:limit]

    def survey_taken(self, exam_id: int, respondent: Respondent) -> bool:
        return (
            self.rows.first(
                SatisfactionSurvey, lambda s: s.exam_id == exam_id and s.respondent == respondent
            )
            is not None
        )

    def add_survey(self, survey: SatisfactionSurvey) -> bool:
        if self.survey_taken(survey.exam_id, survey.respondent):
            return False
        self.rows.add(survey)
        return True


class FakeShifts:
    def __init__(self, rows: Rows) -> None:
        self.rows = rows

    def in_progress(self, radiologist_ids: list[int], now: datetime) -> dict[int, Shift]:
        wanted = set(radiologist_ids)
        return {
            s.radiologist_id: s
            for s in self.rows.where(
                Shift,
                lambda s: s.radiologist_id in wanted and s.ended_at is None and s.starts_at <= now,
            )
        }

    def last_ended(self, radiologist_ids: list[int]) -> dict[int, datetime | None]:
        last: dict[int, datetime | None] = {}
        for shift in self.rows.where(
            Shift, lambda s: s.radiologist_id in set(radiologist_ids) and s.ended_at is not None
        ):
            seen = last.get(shift.radiologist_id)
            assert shift.ended_at is not None
            last[shift.radiologist_id] = max(seen, shift.ended_at) if seen else shift.ended_at
        return last


class FakeRuleSets:
    def __init__(self, rows: Rows) -> None:
        self.rows = rows

    def version(self, version: int) -> RuleSetVersion | None:
        return self.rows.get(RuleSetVersion, version)

    def active(self) -> RuleSetActivation | None:
        found = self.rows.all(RuleSetActivation)
        return found[-1] if found else None


class FakeUnitOfWork:
    """A unit of work over `Rows` in memory; `commit()` only counts (nothing to write)."""

    def __init__(self, *, now: datetime | None = None, rows: Rows | None = None) -> None:
        self.now = now or utcnow()
        self.rows = rows or Rows()
        self.events: list[DomainEvent] = []
        self.appended: dict[type[Any], list[dict[str, Any]]] = {}
        self.exam_id: int | None = None
        self.patient_mrns: dict[int, str] = {}
        self.exams_named: dict[int, int] = {}
        self.modalities: dict[int, Modality] = {}
        self.exams = FakeExams(self.rows)
        self.department = FakeDepartment(self.rows)
        self.prep = FakePrepChecklists(self.rows)
        self.acquisitions = FakeAcquisitions(self.rows)
        self.appointments = FakeAppointments(self.rows)
        self.notifications = FakeNotifications(self.rows)
        self.reads = FakeReads(self.rows)
        self.reports = FakeReports(self.rows)
        self.shifts = FakeShifts(self.rows)
        self.rule_sets = FakeRuleSets(self.rows)

    def seed(self, *rows: SQLModel) -> None:
        """Stage rows as a department already holding them (ids drawn where unset)."""
        for row in rows:
            self.rows.add(row)

    def add(self, instance: object) -> None:
        assert isinstance(instance, SQLModel)
        self.rows.add(instance)

    def delete(self, instance: object) -> None:
        assert isinstance(instance, SQLModel)
        self.rows.remove(type(instance), lambda row: row is instance)

    def append(self, model: type[Any], row: dict[str, Any]) -> None:
        self.appended.setdefault(model, []).append(row)

    def emit(self, event: DomainEvent) -> None:
        self.events.append(event)

    def flush(self) -> None:
        """Nothing to send: rows are in place (with their ids) as soon as they are staged."""

    def hold(self, *rows: object) -> None:
        """Rows are held by `Rows` for the fake's whole life."""

    def name_patient(self, patient_id: int, mrn: str) -> None:
        self.patient_mrns[patient_id] = mrn

    def name_exam(self, exam_id: int, patient_id: int) -> None:
        self.exams_named[exam_id] = patient_id

    def mrn_of(self, patient_id: int) -> str | None:
        return self.patient_mrns.get(patient_id)

    def name_modality(self, procedure_id: int, modality: Modality) -> None:
        self.modalities[procedure_id] = modality

    def events_of(self, kind: type[DomainEvent]) -> list[DomainEvent]:
        """The events of one class the commands emitted, in order."""
        return [e for e in self.events if isinstance(e, kind)]


if TYPE_CHECKING:  # the fake answers every protocol the services use
    _fake: UnitOfWork = FakeUnitOfWork()
