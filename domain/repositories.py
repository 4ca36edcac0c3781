"""What the services ask of storage, named by what they need: the repositories of a unit of work.

Each is a small protocol. `domain.sql_repositories` answers them with SQLAlchemy in the
command's transaction; `domain.fakes` answers them from memory, so a service runs in a unit test
without a database. Repositories never commit: the unit of work does, once per command. New rows
are staged with `UnitOfWork.add` (or `append`, for rows the command never reads back).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol, TypeVar

from sqlmodel import SQLModel

from domain.enums import (
    Modality,
    NotificationChannel,
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
    Exam,
    ExamPrepItem,
    FollowUpRecommendation,
    MetadataValidation,
    Notification,
    OpeningHours,
    Patient,
    Radiologist,
    Read,
    Referrer,
    Report,
    ResultCommunication,
    RuleSetActivation,
    RuleSetVersion,
    SatisfactionSurvey,
    Shift,
)

M = TypeVar("M", bound=SQLModel)


@dataclass(frozen=True)
class ReaderStanding:
    """A radiologist with what decides whether they may read a study now: their credential
    in its subspecialty, their privilege at its site, and the shift they are on."""

    radiologist: Radiologist
    credentialed: bool
    privileged: bool
    privilege_expires_on: date | None
    shift_ends_at: datetime | None  # None: on no shift in progress


@dataclass(frozen=True)
class OrderParties:
    """Who an order names, and the exam of the same order if it was placed before."""

    patient: Patient | None
    referrer: Referrer | None
    existing: Exam | None


class Exams(Protocol):
    """Exams: the one a command changes, re-sent orders, and who may see which."""

    def get(self, exam_id: int) -> Exam | None:
        """The exam with this id."""

    def by_placer_order(self, source: str, placer: str, scope: str) -> Exam | None:
        """The exam of an order already placed with this source and number in this scope."""

    def order_parties(
        self, *, source: str, placer: str, scope: str, patient_mrn: str, referrer_code: str
    ) -> OrderParties:
        """The patient with this MRN, the referrer with this code and the exam of the order
        with this source and placer number in this scope (each None when there is none), in
        one lookup."""

    def add_order(self, exam: Exam) -> bool:
        """Stage a new order's exam and give it its id; False when a concurrent command placed
        the same placer order first (nothing is then staged)."""

    def visible_to(self, actor: Actor, exam_ids: list[int]) -> set[int]:
        """Which of `exam_ids` the actor may see (domain/access.py)."""

    def touch(self, exam: Exam) -> None:
        """Count `exam` as changed although no column of its own did (its version moves on)."""

    def waiting_among(self, exam_ids: list[int]) -> set[int]:
        """Which of `exam_ids` are ready for a read."""

    def of_patient(self, patient_id: int) -> list[Exam]:
        """Every exam of one patient, oldest order first."""


class Department(Protocol):
    """The department's reference rows and people (procedures, sites, scanners, templates,
    referrers, radiologists, credentials, patients): looked up by key or natural key."""

    def get(self, model: type[M], key: Any) -> M | None:
        """A row by primary key (a tuple for a composite key)."""

    def find(self, model: type[M], column: str, value: object) -> M | None:
        """A row by a unique natural key (code, MRN, ...)."""

    def left_out_last_run(self) -> frozenset[int]:
        """The exams the balancer's last committed run could not place."""

    def body_region(self, modality: Modality, region: str) -> str | None:
        """The catalogue's spelling of `region` (any case) if an active procedure of
        `modality` covers that body part, else None."""

    def turnaround_minutes(
        self, procedure_id: int, priority: Priority, patient_class: PatientClass
    ) -> int | None:
        """A procedure's own turnaround target for a priority and patient class, if set."""

    def opening_hours(self, resource_id: int) -> list[OpeningHours]:
        """A scanner's weekly opening windows."""

    def reader_standing(
        self, code: str, *, subspecialty: Subspecialty, site_id: int, now: datetime
    ) -> ReaderStanding | None:
        """The radiologist with this code, whether they hold `subspecialty` and a privilege
        at the site (and when it expires), and when the shift they are on at `now` (begun,
        not ended) ends; None when no radiologist has the code."""


class PrepChecklists(Protocol):
    """The prep checklist each exam gets from its procedure's protocol."""

    def items(self, exam_id: int) -> list[ExamPrepItem]:
        """The exam's whole checklist."""

    def open_count(self, exam_id: int) -> int:
        """How many of the exam's items are not done yet."""

    def item_and_others_open(self, exam_id: int, code: str) -> tuple[ExamPrepItem, int] | None:
        """The exam's checklist item with this code (the first, should two share it) and how
        many of its other items are not done yet, in one lookup; None when it has no such
        item."""

    def copy_protocol(self, exam_id: int, protocol_id: int) -> None:
        """Give a new exam the items of a prep protocol."""


@dataclass(frozen=True)
class AcquisitionStart:
    """What starting an exam's next acquisition attempt needs to know, read at once."""

    attempts: int  # the attempts made so far
    open_prep_items: int  # the prep checklist's items not done yet


@dataclass(frozen=True)
class StorageFacts:
    """What storing an exam's study checks and copies, read at once."""

    uid_taken: bool  # a stored study already has the Study Instance UID
    # the exam's most recent metadata validation found its last attempt's study valid
    metadata_valid: bool
    series_count: int | None  # of the exam's last acquisition attempt (None: not recorded)
    image_count: int | None


class Acquisitions(Protocol):
    """Imaging attempts, metadata validations and stored studies."""

    def attempts(self, exam_id: int) -> list[Acquisition]:
        """The exam's acquisition attempts, first to last."""

    def latest_validation(self, exam_id: int) -> MetadataValidation | None:
        """The exam's most recent metadata validation."""

    def before_start(self, exam_id: int) -> AcquisitionStart:
        """How many attempts the exam has had and how many prep items it has open, in one
        lookup."""

    def storage_facts(self, exam_id: int, uid: str) -> StorageFacts:
        """Whether the UID is taken, whether the exam's metadata is valid, and its last
        attempt's counts, in one lookup."""


class Appointments(Protocol):
    """Appointments and the slot claims that make a double booking impossible."""

    def live(self, exam_id: int) -> Appointment | None:
        """The exam's booked, confirmed or arrived appointment, if any."""

    def claim_slots(
        self, resource_id: int, starts: Sequence[datetime], appointment_id: int
    ) -> bool:
        """Claim the slots for an appointment; False if any is taken, and the command must then
        fail (its transaction is not to be used further)."""

    def free_slots(self, appointment_id: int) -> None:
        """Give back an appointment's slots."""

    def unattended(self, ended_before: datetime, limit: int) -> list[Appointment]:
        """Booked or confirmed appointments (nobody arrived) that ended before this time,
        earliest first."""


class Notifications(Protocol):
    """Messages queued for patients and referrers, and their delivery."""

    def get(self, notification_id: int) -> Notification | None:
        """A notification by id."""

    def queued_for(
        self, exam_id: int, templates: Collection[NotificationTemplate]
    ) -> list[Notification]:
        """The exam's notifications of these templates that are still QUEUED."""

    def due(
        self, now: datetime, limit: int, channels: Collection[NotificationChannel]
    ) -> list[Notification]:
        """QUEUED notifications on these channels whose send time and next attempt have
        come and that no sender holds (an unexpired claim), oldest send time first; on
        PostgreSQL locked for this transaction, skipping rows another sender is claiming."""


class Reads(Protocol):
    """Reads: who holds each study on their worklist, and how past holdings ended."""

    def current(self, exam_id: int) -> Read | None:
        """The exam's current read."""

    def current_with_reader(self, exam_id: int) -> tuple[Read, Radiologist] | None:
        """The exam's current read and its reader, in one lookup."""

    def current_with_report(self, exam_id: int) -> tuple[Read, Radiologist, Report | None] | None:
        """The exam's current read, its reader and the exam's report (if any), in one lookup."""

    def current_for(self, exam_ids: list[int]) -> dict[int, Read]:
        """The current reads of these exams, by exam."""

    def opened_by(self, radiologist_id: int) -> list[int]:
        """The exams in interpretation that this radiologist has open."""

    def opened_in_interpretation(self) -> list[tuple[Read, Priority, Radiologist]]:
        """Every open read of a study in interpretation, oldest opening first, with the
        study's priority and its reader."""

    def end_many(self, reads: Sequence[Read], at: datetime, unassignable: set[int]) -> None:
        """End these reads at once (UNASSIGNABLE for the exams named, else REASSIGNED)."""

    def start_many(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Start many reads at once (column values; the command does not read them back)."""

    def last_endings(self, exam_ids: list[int]) -> dict[int, tuple[str | None, str | None]]:
        """How each exam's most recent read ended: its end reason and note."""

    def record_pace(
        self, *, radiologist_id: int, procedure_group: str, log_ratio: float, at: datetime
    ) -> None:
        """Add one signed read's log read-time ratio to the reader's pace for the group, safely
        against concurrent signings (`ReadingPace`)."""


class Reports(Protocol):
    """Reports, result communications, follow-ups and surveys."""

    def of_exam(self, exam_id: int) -> Report | None:
        """The exam's report."""

    def with_recipients(self, exam_id: int) -> tuple[Report | None, Referrer, Patient]:
        """The exam's report (if any), its referrer and its patient, in one lookup: what a
        result says and whom it goes to."""

    def latest_communication(self, exam_id: int) -> ResultCommunication | None:
        """The exam's most recent result communication."""

    def latest_communication_and_recipients(
        self, exam_id: int
    ) -> tuple[ResultCommunication, frozenset[str]] | None:
        """The exam's most recent result communication and the codes of the referrers it
        went to (the ordering one, and one an escalation or its delivery reached), in one
        lookup."""

    def communication(self, communication_id: int) -> ResultCommunication | None:
        """One result communication by id."""

    def unacknowledged_critical(self, exam_id: int) -> int:
        """How many of the exam's critical or urgent results wait for acknowledgement."""

    def overdue_communications(self, now: datetime) -> list[ResultCommunication]:
        """Critical results whose acknowledgement is overdue."""

    def critical_not_communicated(self, limit: int) -> list[tuple[Report, Exam]]:
        """Final reports with a critical or urgent finding whose exam is still FINAL (the
        result has not been communicated), with their exam."""

    def follow_up(self, follow_up_id: int) -> FollowUpRecommendation | None:
        """A follow-up recommendation."""

    def follow_ups_fallen_due(self, on: date, limit: int) -> list[FollowUpRecommendation]:
        """OPEN follow-ups due on or before `on` whose referrer has not been told yet."""

    def follow_up_candidates(self, limit: int) -> list[tuple[FollowUpRecommendation, Exam]]:
        """OPEN follow-ups with a recommended modality and body region and no exam linked,
        each with the exams that could fulfil it: the same patient's, ordered since the
        recommendation, not cancelled or missed, of a procedure of that modality and body
        part (any case); earliest ordered first."""

    def follow_ups_overdue(self, on: date, limit: int) -> list[FollowUpRecommendation]:
        """OPEN follow-ups due before `on` with no exam linked, the longest overdue first."""

    def linked_follow_ups(self, limit: int) -> list[tuple[FollowUpRecommendation, Exam]]:
        """OPEN follow-ups with an exam linked, with that exam."""

    def survey_taken(self, exam_id: int, respondent: Respondent) -> bool:
        """Whether this respondent already rated the exam."""

    def add_survey(self, survey: SatisfactionSurvey) -> bool:
        """Store a survey answer; False (nothing stored) when its respondent already rated the
        exam, even in a transaction running at the same time."""


class Shifts(Protocol):
    """Reading shifts."""

    def in_progress(self, radiologist_ids: list[int], now: datetime) -> dict[int, Shift]:
        """The shift each radiologist is on now (begun, not ended), by radiologist."""

    def last_ended(self, radiologist_ids: list[int]) -> dict[int, datetime | None]:
        """When each radiologist's last ended shift ended."""


class RuleSets(Protocol):
    """Stored rule set versions and their activations."""

    def version(self, version: int) -> RuleSetVersion | None:
        """A stored version."""

    def active(self) -> RuleSetActivation | None:
        """The latest activation."""


class UnitOfWork(Protocol):
    """What a command works through: its clock, its repositories, its new rows and events."""

    now: datetime
    events: list[DomainEvent]
    exam_id: int | None

    @property
    def exams(self) -> Exams: ...

    @property
    def department(self) -> Department: ...

    @property
    def prep(self) -> PrepChecklists: ...

    @property
    def acquisitions(self) -> Acquisitions: ...

    @property
    def appointments(self) -> Appointments: ...

    @property
    def notifications(self) -> Notifications: ...

    @property
    def reads(self) -> Reads: ...

    @property
    def reports(self) -> Reports: ...

    @property
    def shifts(self) -> Shifts: ...

    @property
    def rule_sets(self) -> RuleSets: ...

    def add(self, instance: object) -> None:
        """Stage a new row."""

    def delete(self, instance: object) -> None:
        """Stage the removal of a row the command loaded."""

    def append(self, model: type[Any], row: dict[str, Any]) -> None:
        """Stage a new row the command never reads back."""

    def emit(self, event: DomainEvent) -> None:
        """Record an event, published once the command commits."""

    def flush(self) -> None:
        """Send pending writes now (to learn generated ids or hit constraints early)."""

    def hold(self, *rows: object) -> None:
        """Keep rows loaded for this command until it ends."""

    def name_patient(self, patient_id: int, mrn: str) -> None:
        """Note a patient's MRN, read along with something else, for the audit record."""

    def name_exam(self, exam_id: int, patient_id: int) -> None:
        """Note an exam the command answers with but did not change (a re-sent order), and
        whose it is, for the audit record."""

    def mrn_of(self, patient_id: int) -> str | None:
        """A patient's MRN this command already read (with its exam), else None."""

    def name_modality(self, procedure_id: int, modality: Modality) -> None:
        """Note a procedure's modality, read along with something else, for the outbox."""
