"""Domain events: immutable facts, named in the past tense, emitted by commands.

Every status change emits an `ExamStatusChanged` subclass named after the step; other facts
(a draft saved, a read assigned) have their own classes. Events are published after the
transaction that produced them commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from domain.enums import ExamStatus, RadiologistStatus, ReadSource, Role


@dataclass(frozen=True, kw_only=True)
class DomainEvent:
    """Base of every event: when it happened and who caused it."""

    at: datetime
    actor: str
    role: Role

    @property
    def event_type(self) -> str:
        """The stable name integrations see."""
        return type(self).__name__


@dataclass(frozen=True, kw_only=True)
class ExamStatusChanged(DomainEvent):
    """An exam moved from one status to another (or amended in place)."""

    exam_id: int
    accession_number: str
    site_id: int
    from_status: ExamStatus | None
    to_status: ExamStatus
    reason: str | None = None


# One subclass per lifecycle step, so consumers can subscribe by meaning.
@dataclass(frozen=True, kw_only=True)
class ExamOrdered(ExamStatusChanged):
    """A new order was placed."""


@dataclass(frozen=True, kw_only=True)
class ExamScheduled(ExamStatusChanged):
    """An appointment was booked."""


@dataclass(frozen=True, kw_only=True)
class ExamRescheduled(ExamStatusChanged):
    """The appointment moved to another time or resource."""


@dataclass(frozen=True, kw_only=True)
class ExamCancelled(ExamStatusChanged):
    """The exam was cancelled before acquisition."""


@dataclass(frozen=True, kw_only=True)
class ExamNoShow(ExamStatusChanged):
    """The patient did not come."""


@dataclass(frozen=True, kw_only=True)
class PatientCheckedIn(ExamStatusChanged):
    """The patient arrived."""


@dataclass(frozen=True, kw_only=True)
class ExamPrepared(ExamStatusChanged):
    """The prep checklist is complete."""


@dataclass(frozen=True, kw_only=True)
class AcquisitionStarted(ExamStatusChanged):
    """Imaging began."""


@dataclass(frozen=True, kw_only=True)
class ExamAcquired(ExamStatusChanged):
    """Imaging finished."""


@dataclass(frozen=True, kw_only=True)
class RepeatRequested(ExamStatusChanged):
    """The acquisition must be repeated."""


@dataclass(frozen=True, kw_only=True)
class MetadataRejected(ExamStatusChanged):
    """The study's header does not match its order."""


@dataclass(frozen=True, kw_only=True)
class MetadataCorrected(ExamStatusChanged):
    """A rejected header was corrected and now validates."""


@dataclass(frozen=True, kw_only=True)
class StudyReadyForRead(ExamStatusChanged):
    """The study is stored and can be read."""


@dataclass(frozen=True, kw_only=True)
class ReadOpened(ExamStatusChanged):
    """A radiologist opened the study."""


@dataclass(frozen=True, kw_only=True)
class ReadReleased(ExamStatusChanged):
    """An opened study went back to the balancer: handed back by its reader, released by a
    supervisor, or released by itself after its absent reader's grace (the reason says which)."""


@dataclass(frozen=True, kw_only=True)
class ReportSignedPreliminary(ExamStatusChanged):
    """A preliminary report was signed."""


@dataclass(frozen=True, kw_only=True)
class ReportSignedFinal(ExamStatusChanged):
    """The final report was signed."""


@dataclass(frozen=True, kw_only=True)
class ReportAmended(ExamStatusChanged):
    """An addendum was added to a signed report."""


@dataclass(frozen=True, kw_only=True)
class ResultCommunicated(ExamStatusChanged):
    """The referrer was notified of the result."""


@dataclass(frozen=True, kw_only=True)
class ExamClosed(ExamStatusChanged):
    """The exam is complete and archived."""


@dataclass(frozen=True, kw_only=True)
class AppointmentConfirmed(DomainEvent):
    """The patient confirmed the appointment."""

    exam_id: int
    appointment_id: int


@dataclass(frozen=True, kw_only=True)
class PrepItemCompleted(DomainEvent):
    """One prep checklist item was completed."""

    exam_id: int
    item_code: str


@dataclass(frozen=True, kw_only=True)
class MetadataValidated(DomainEvent):
    """A study's header was checked; `valid` says whether it matched."""

    exam_id: int
    valid: bool
    problem_count: int


@dataclass(frozen=True, kw_only=True)
class AssignmentChanged(DomainEvent):
    """A study moved onto a radiologist's worklist, to another one, or off every worklist."""

    exam_id: int
    radiologist_id: int | None
    previous_radiologist_id: int | None
    reason: str
    source: ReadSource


@dataclass(frozen=True, kw_only=True)
class AssignmentPinned(DomainEvent):
    """A supervisor pinned a study to a radiologist: the balancer keeps it there."""

    exam_id: int
    radiologist_id: int


@dataclass(frozen=True, kw_only=True)
class AssignmentUnpinned(DomainEvent):
    """A supervisor released a pin: the balancer may move the study again."""

    exam_id: int


@dataclass(frozen=True, kw_only=True)
class ReadStranded(DomainEvent):
    """A reader went off shift or on a break with this study open: raised to the supervisors."""

    exam_id: int
    radiologist_id: int
    reason: str


@dataclass(frozen=True, kw_only=True)
class StatUnassigned(DomainEvent):
    """A STAT study is on nobody's worklist after the balancer's maximum placement (no reader
    may read it now, or every one who may is at a cap that holds for STAT): raised to the
    supervisors once, when it is first left out."""

    exam_id: int
    reason: str


@dataclass(frozen=True, kw_only=True)
class WorklistReordered(DomainEvent):
    """The order of studies on these radiologists' worklists changed."""

    radiologist_ids: tuple[int, ...]


@dataclass(frozen=True, kw_only=True)
class ShiftStarted(DomainEvent):
    """A radiologist began a reading shift."""

    radiologist_id: int
    shift_id: int


@dataclass(frozen=True, kw_only=True)
class ShiftEnded(DomainEvent):
    """A radiologist's reading shift ended."""

    radiologist_id: int
    shift_id: int


@dataclass(frozen=True, kw_only=True)
class RadiologistStatusChanged(DomainEvent):
    """A radiologist became available, went on a break, or went off."""

    radiologist_id: int
    status: RadiologistStatus


@dataclass(frozen=True, kw_only=True)
class BalancerRan(DomainEvent):
    """The balancer committed a plan."""

    run_id: int
    duration_ms: float
    moved: int
    assigned: int
    unassignable: int


@dataclass(frozen=True, kw_only=True)
class ReportDraftSaved(DomainEvent):
    """A report draft was saved."""

    exam_id: int
    report_id: int


@dataclass(frozen=True, kw_only=True)
class ResultAcknowledged(DomainEvent):
    """The referrer acknowledged a communicated result."""

    exam_id: int
    communication_id: int


@dataclass(frozen=True, kw_only=True)
class CriticalResultEscalated(DomainEvent):
    """A critical result was not acknowledged in time (or, with no communication, not
    communicated in time) and was escalated."""

    exam_id: int
    communication_id: int | None  # None: the result was never communicated
    critical_level: str | None = None
    escalation_count: int = 0  # the how-many-th escalation this is
    recipient_kind: str = "referrer"  # who this escalation calls: referrer, covering, supervisor
    recipient_id: int | None = None  # the referrer's or covering physician's id


@dataclass(frozen=True, kw_only=True)
class FollowUpRecorded(DomainEvent):
    """A follow-up recommendation was recorded."""

    exam_id: int
    follow_up_id: int


@dataclass(frozen=True, kw_only=True)
class FollowUpEscalated(DomainEvent):
    """An open follow-up was past its due date with no exam ordered for it, and the next
    person of the escalation chain was told."""

    exam_id: int
    follow_up_id: int
    escalation_count: int  # the how-many-th escalation this is
    recipient_kind: str  # referrer, covering, supervisor
    recipient_id: int | None = None  # the referrer's or covering physician's id


@dataclass(frozen=True, kw_only=True)
class SurveySubmitted(DomainEvent):
    """A satisfaction survey was answered."""

    exam_id: int
    survey_id: int


@dataclass(frozen=True, kw_only=True)
class RuleSetSaved(DomainEvent):
    """A new rule set version was saved (not yet active)."""

    version: int


@dataclass(frozen=True, kw_only=True)
class RuleSetActivated(DomainEvent):
    """A rule set version became the department's policy."""

    version: int
    previous_version: int | None


@dataclass(frozen=True, kw_only=True)
class AiTriagePosted(DomainEvent):
    """An AI triage result arrived for a study."""

    exam_id: int
    finding: str
    score: float


@dataclass(frozen=True, kw_only=True)
class CriticalResultRaised(DomainEvent):
    """A critical or urgent result was communicated: a loop opens until it is acknowledged."""

    exam_id: int
    site_id: int
    communication_id: int
    critical_level: str


@dataclass(frozen=True, kw_only=True)
class OrderChanged(DomainEvent):
    """The order source changed an order's fields in place (its status did not move)."""

    exam_id: int
    accession_number: str
    site_id: int
    status: ExamStatus
    changes: tuple[str, ...]  # "priority: ROUTINE -> STAT", one per changed field


@dataclass(frozen=True, kw_only=True)
class PatientsMerged(DomainEvent):
    """Two records of one patient became one: the prior's exams now belong to the surviving."""

    surviving_patient_id: int
    surviving_mrn: str
    prior_patient_id: int
    prior_mrn: str
    exam_ids: tuple[int, ...]
