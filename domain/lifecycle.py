"""The exam lifecycle: one declarative transition table and one `transition()`.

Each row says: from this status, this step leads to that status, these roles may take it, these
guards must hold, and this event records it. Everything that changes an exam's status goes
through `transition()`, which checks the row, stamps who/when/why in the history and emits the
event.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from domain import events as ev
from domain.enums import ExamStatus as S
from domain.enums import PatientClass, Priority, Role
from domain.errors import Condition, InvalidTransition, NotPermitted, PreconditionFailed
from domain.models import Exam


class Step(StrEnum):
    """A lifecycle step: what a person (or system) does to an exam.

    ORDER is the first entry of every history; placing an order creates the exam
    (domain/services/orders.py) rather than moving one, so no row of the table takes it.
    """

    ORDER = "ORDER"
    SCHEDULE = "SCHEDULE"
    RESCHEDULE = "RESCHEDULE"
    CANCEL = "CANCEL"
    MARK_NO_SHOW = "MARK_NO_SHOW"
    CHECK_IN = "CHECK_IN"
    COMPLETE_PREP = "COMPLETE_PREP"
    START_ACQUISITION = "START_ACQUISITION"
    COMPLETE_ACQUISITION = "COMPLETE_ACQUISITION"
    REQUEST_REPEAT = "REQUEST_REPEAT"
    REJECT_METADATA = "REJECT_METADATA"
    CORRECT_METADATA = "CORRECT_METADATA"
    REGISTER_STORAGE = "REGISTER_STORAGE"
    OPEN_READ = "OPEN_READ"
    RELEASE_READ = "RELEASE_READ"
    SIGN_PRELIMINARY = "SIGN_PRELIMINARY"
    SIGN_FINAL = "SIGN_FINAL"
    ADD_ADDENDUM = "ADD_ADDENDUM"
    NOTIFY_RESULT = "NOTIFY_RESULT"
    CLOSE = "CLOSE"


class ExamFacts(Protocol):
    """What the guards need to know about an exam beyond its own row."""

    def prep_complete(self) -> bool: ...
    def metadata_valid(self) -> bool: ...
    def report_complete(self) -> bool: ...
    def final_report_signed(self) -> bool: ...
    def critical_results_acknowledged(self) -> bool: ...


@dataclass(frozen=True)
class Guard:
    """A condition a transition needs, with the error code and message when it fails."""

    code: Condition
    message: str
    holds: Callable[[Exam, ExamFacts], bool]


FAST_TRACK = Guard(
    Condition.NOT_FAST_TRACK,
    "only STAT or ED exams may be checked in without an appointment",
    lambda exam, _: exam.priority == Priority.STAT or exam.patient_class == PatientClass.ED,
)
PREP_COMPLETE = Guard(
    Condition.PREP_INCOMPLETE, "the prep checklist must be complete", lambda _, f: f.prep_complete()
)
METADATA_VALID = Guard(
    Condition.METADATA_NOT_VALIDATED,
    "the study's metadata must be validated successfully first",
    lambda _, f: f.metadata_valid(),
)
REPORT_COMPLETE = Guard(
    Condition.REPORT_INCOMPLETE,
    "the report must have every required field of its template filled, coded ones with an "
    "allowed code",
    lambda _, f: f.report_complete(),
)
FINAL_REPORT = Guard(
    Condition.NO_FINAL_REPORT,
    "a final report must be signed first",
    lambda _, f: f.final_report_signed(),
)
CRITICAL_ACKNOWLEDGED = Guard(
    Condition.CRITICAL_RESULT_UNACKNOWLEDGED,
    "every critical result must be acknowledged before closing",
    lambda _, f: f.critical_results_acknowledged(),
)


@dataclass(frozen=True)
class Transition:
    """One row of the table."""

    step: Step
    source: S
    target: S
    roles: frozenset[Role]
    event: type[ev.ExamStatusChanged]
    guards: tuple[Guard, ...] = ()


def _roles(*roles: Role) -> frozenset[Role]:
    return frozenset(roles)


FRONT_DESK = _roles(Role.SCHEDULER, Role.ADMIN)
BOOKERS = _roles(Role.SCHEDULER, Role.PATIENT, Role.ADMIN)
# An order source (an EHR's interface) withdraws orders it placed, before the patient arrives.
CANCELLERS = _roles(
    Role.REFERRER, Role.SCHEDULER, Role.PATIENT, Role.SUPERVISOR, Role.ADMIN, Role.INTEGRATION
)
ON_SITE_CANCELLERS = _roles(Role.SCHEDULER, Role.TECHNOLOGIST, Role.SUPERVISOR, Role.ADMIN)
ARRIVAL = _roles(Role.SCHEDULER, Role.TECHNOLOGIST, Role.ADMIN)
TECH = _roles(Role.TECHNOLOGIST, Role.ADMIN)
TECH_OR_SYSTEM = _roles(Role.TECHNOLOGIST, Role.INTEGRATION, Role.SYSTEM, Role.ADMIN)
READER = _roles(Role.RADIOLOGIST)
COMMUNICATORS = _roles(Role.RADIOLOGIST, Role.INTEGRATION, Role.SYSTEM, Role.ADMIN)
# The reader hands their own study back; a supervisor (or the balancer's leader, for an absent
# reader) releases anyone's.
RELEASERS = _roles(Role.RADIOLOGIST, Role.SUPERVISOR, Role.SYSTEM, Role.ADMIN)
CLOSERS = _roles(Role.SUPERVISOR, Role.INTEGRATION, Role.SYSTEM, Role.ADMIN)

T = Transition
TRANSITIONS: tuple[Transition, ...] = (
    T(Step.SCHEDULE, S.ORDERED, S.SCHEDULED, BOOKERS, ev.ExamScheduled),
    T(Step.RESCHEDULE, S.SCHEDULED, S.SCHEDULED, BOOKERS, ev.ExamRescheduled),
    T(Step.RESCHEDULE, S.NO_SHOW, S.SCHEDULED, BOOKERS, ev.ExamRescheduled),
    T(Step.CANCEL, S.ORDERED, S.CANCELLED, CANCELLERS, ev.ExamCancelled),
    T(Step.CANCEL, S.SCHEDULED, S.CANCELLED, CANCELLERS, ev.ExamCancelled),
    T(Step.CANCEL, S.CHECKED_IN, S.CANCELLED, ON_SITE_CANCELLERS, ev.ExamCancelled),
    T(Step.CANCEL, S.PREPARED, S.CANCELLED, ON_SITE_CANCELLERS, ev.ExamCancelled),
    # A scanner discontinued the procedure step for a reason that ends the exam (the patient
    # refused or left, the wrong procedure was ordered): MPPS DISCONTINUED, interfaces/dicom.
    T(Step.CANCEL, S.IN_ACQUISITION, S.CANCELLED, ON_SITE_CANCELLERS, ev.ExamCancelled),
    T(
        Step.MARK_NO_SHOW,
        S.SCHEDULED,
        S.NO_SHOW,
        _roles(Role.SCHEDULER, Role.SYSTEM, Role.ADMIN),
        ev.ExamNoShow,
    ),
    T(Step.CHECK_IN, S.SCHEDULED, S.CHECKED_IN, ARRIVAL, ev.PatientCheckedIn),
    T(Step.CHECK_IN, S.ORDERED, S.CHECKED_IN, ARRIVAL, ev.PatientCheckedIn, (FAST_TRACK,)),
    T(Step.COMPLETE_PREP, S.CHECKED_IN, S.PREPARED, ARRIVAL, ev.ExamPrepared, (PREP_COMPLETE,)),
    T(
        Step.START_ACQUISITION,
        S.CHECKED_IN,
        S.IN_ACQUISITION,
        TECH,
        ev.AcquisitionStarted,
        (PREP_COMPLETE,),
    ),
    T(
        Step.START_ACQUISITION,
        S.PREPARED,
        S.IN_ACQUISITION,
        TECH,
        ev.AcquisitionStarted,
        (PREP_COMPLETE,),
    ),
    T(Step.COMPLETE_ACQUISITION, S.IN_ACQUISITION, S.ACQUIRED, TECH, ev.ExamAcquired),
    T(
        Step.REQUEST_REPEAT,
        S.ACQUIRED,
        S.IN_ACQUISITION,
        _roles(Role.TECHNOLOGIST, Role.RADIOLOGIST, Role.ADMIN),
        ev.RepeatRequested,
    ),
    # An acquisition broken off (equipment failure, motion): the attempt keeps its reason and
    # a new attempt begins (MPPS DISCONTINUED for a reason that calls for a repeat).
    T(
        Step.REQUEST_REPEAT,
        S.IN_ACQUISITION,
        S.IN_ACQUISITION,
        _roles(Role.TECHNOLOGIST, Role.RADIOLOGIST, Role.ADMIN),
        ev.RepeatRequested,
    ),
    T(Step.REJECT_METADATA, S.ACQUIRED, S.METADATA_REJECTED, TECH_OR_SYSTEM, ev.MetadataRejected),
    T(Step.CORRECT_METADATA, S.METADATA_REJECTED, S.ACQUIRED, TECH_OR_SYSTEM, ev.MetadataCorrected),
    T(
        Step.REGISTER_STORAGE,
        S.ACQUIRED,
        S.READY_FOR_READ,
        TECH_OR_SYSTEM,
        ev.StudyReadyForRead,
        (METADATA_VALID,),
    ),
    T(Step.OPEN_READ, S.READY_FOR_READ, S.IN_INTERPRETATION, READER, ev.ReadOpened),
    T(Step.RELEASE_READ, S.IN_INTERPRETATION, S.READY_FOR_READ, RELEASERS, ev.ReadReleased),
    T(
        Step.SIGN_PRELIMINARY,
        S.IN_INTERPRETATION,
        S.PRELIMINARY,
        READER,
        ev.ReportSignedPreliminary,
        (REPORT_COMPLETE,),
    ),
    T(
        Step.SIGN_FINAL,
        S.IN_INTERPRETATION,
        S.FINAL,
        READER,
        ev.ReportSignedFinal,
        (REPORT_COMPLETE,),
    ),
    T(Step.SIGN_FINAL, S.PRELIMINARY, S.FINAL, READER, ev.ReportSignedFinal, (REPORT_COMPLETE,)),
    T(Step.ADD_ADDENDUM, S.FINAL, S.FINAL, READER, ev.ReportAmended),
    T(Step.ADD_ADDENDUM, S.COMMUNICATED, S.COMMUNICATED, READER, ev.ReportAmended),
    T(Step.ADD_ADDENDUM, S.CLOSED, S.CLOSED, READER, ev.ReportAmended),
    T(
        Step.NOTIFY_RESULT,
        S.FINAL,
        S.COMMUNICATED,
        COMMUNICATORS,
        ev.ResultCommunicated,
        (FINAL_REPORT,),
    ),
    T(Step.CLOSE, S.COMMUNICATED, S.CLOSED, CLOSERS, ev.ExamClosed, (CRITICAL_ACKNOWLEDGED,)),
)

_BY_STEP_AND_SOURCE: dict[tuple[Step, S], Transition] = {(t.step, t.source): t for t in TRANSITIONS}
assert len(_BY_STEP_AND_SOURCE) == len(TRANSITIONS), "one row per (step, source)"

TERMINAL = frozenset({S.CLOSED, S.CANCELLED})

# The step each status event records: the one name a history entry, a status event and an
# InvalidTransition share for what was done.
_STEP_OF_EVENT: dict[str, Step] = {ev.ExamOrdered.__name__: Step.ORDER} | {
    t.event.__name__: t.step for t in TRANSITIONS
}
assert all(_STEP_OF_EVENT[t.event.__name__] == t.step for t in TRANSITIONS), (
    "one event class per step"
)


def step_of(event_type: str) -> Step:
    """The step a status event (or history entry) of this type records."""
    return _STEP_OF_EVENT[event_type]


def sources_of(step: Step) -> tuple[S, ...]:
    """The statuses from which `step` may be taken."""
    return tuple(t.source for t in TRANSITIONS if t.step == step)


def find_transition(step: Step, source: S) -> Transition | None:
    """The table row for `step` from `source`, if any."""
    return _BY_STEP_AND_SOURCE.get((step, source))


@dataclass(frozen=True)
class Actor:
    """Who is acting: an identifier (user, system name) and the role they act in.

    `sites` are the site codes a technologist works at; `phi` says whether the actor may see
    patients' names, birth dates and contact details (everyone but integrations, unless an
    integration's token grants it).
    """

    id: str
    role: Role
    sites: frozenset[str] = frozenset()
    phi: bool = True


class Recorder(Protocol):
    """Where a transition records its event (the unit of work, which also writes the exam's
    history row from it: domain/history.py)."""

    def emit(self, event: ev.DomainEvent) -> None: ...


def ensure_step_allowed(exam: Exam, step: Step) -> Transition:
    """The row for `step` from the exam's status, or InvalidTransition (checks nothing else)."""
    row = find_transition(step, exam.status)
    if row is None:
        raise InvalidTransition(
            exam_id=exam.id or 0,
            status=exam.status.value,
            step=step.value,
            allowed=tuple(s.value for s in sources_of(step)),
        )
    return row


def ensure_step_permitted(exam: Exam, step: Step, actor: Actor) -> Transition:
    """The row for `step` from the exam's status, if the actor's role may take it: what
    `transition` checks before the guards, for a command that validates more before it."""
    row = ensure_step_allowed(exam, step)
    if actor.role not in row.roles:
        raise NotPermitted(f"role {actor.role.value} may not {step.value.lower()}")
    return row


def transition(
    exam: Exam,
    step: Step,
    *,
    actor: Actor,
    at: datetime,
    facts: ExamFacts,
    recorder: Recorder,
    reason: str | None = None,
) -> Transition:
    """Take `step` on `exam`: check the table, its roles and guards, then record and emit."""
    assert exam.id is not None
    row = ensure_step_permitted(exam, step, actor)
    for guard in row.guards:
        if not guard.holds(exam, facts):
            raise PreconditionFailed(guard.code, guard.message)
    source = exam.status
    exam.status = row.target
    exam.status_changed_at = at
    # The event is also the history row: the unit of work writes one from each status event.
    recorder.emit(
        row.event(
            at=at,
            actor=actor.id,
            role=actor.role,
            exam_id=exam.id,
            accession_number=exam.accession_number,
            site_id=exam.site_id,
            from_status=source,
            to_status=row.target,
            reason=reason,
        )
    )
    return row
