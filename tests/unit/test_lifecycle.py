"""The whole transition table: every allowed step, every disallowed one, roles and guards."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest

from domain.enums import ExamStatus, PatientClass, Priority, Role
from domain.errors import InvalidTransition, NotPermitted, PreconditionFailed
from domain.events import DomainEvent, ExamStatusChanged
from domain.history import history_rows
from domain.lifecycle import TRANSITIONS, Actor, Step, find_transition, transition
from domain.models import Exam

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


@dataclass
class Facts:
    prep: bool = True
    metadata: bool = True
    report: bool = True
    final: bool = True
    acknowledged: bool = True

    def prep_complete(self) -> bool:
        return self.prep

    def metadata_valid(self) -> bool:
        return self.metadata

    def report_complete(self) -> bool:
        return self.report

    def final_report_signed(self) -> bool:
        return self.final

    def critical_results_acknowledged(self) -> bool:
        return self.acknowledged


@dataclass
class Recorder:
    events: list[DomainEvent] = field(default_factory=list)

    def emit(self, event: DomainEvent) -> None:
        self.events.append(event)


def exam(
    status: ExamStatus,
    *,
    priority: Priority = Priority.STAT,
    patient_class: PatientClass = PatientClass.ED,
) -> Exam:
    return Exam(
        id=7,
        accession_number="RF0000000007",
        order_source="EPIC",
        placer_order_number="1",
        patient_id=1,
        referrer_id=1,
        procedure_id=1,
        site_id=1,
        priority=priority,
        patient_class=patient_class,
        indication="x",
        icd10_code="R51",
        status=status,
        ordered_at=NOW,
        status_changed_at=NOW,
    )


ALL_PAIRS = [(step, status) for step in Step for status in ExamStatus]
ALLOWED = [(t.step, t.source) for t in TRANSITIONS]
DISALLOWED = [pair for pair in ALL_PAIRS if pair not in ALLOWED]


@pytest.mark.parametrize(("step", "source"), ALLOWED, ids=lambda v: str(v))
def test_every_allowed_transition_moves_records_and_emits(step: Step, source: ExamStatus) -> None:
    row = find_transition(step, source)
    assert row is not None
    role = sorted(row.roles)[0]
    recorder, subject = Recorder(), exam(source)
    transition(
        subject,
        step,
        actor=Actor("someone", role),
        at=NOW,
        facts=Facts(),
        recorder=recorder,
        reason="because",
    )
    assert subject.status == row.target
    assert subject.status_changed_at == NOW
    [event] = recorder.events
    assert isinstance(event, row.event) and isinstance(event, ExamStatusChanged)
    assert (event.from_status, event.to_status, event.exam_id) == (source, row.target, 7)
    # The unit of work writes the exam's history row from the event.
    [history] = history_rows(recorder.events)
    assert history == {
        "exam_id": 7,
        "from_status": source,
        "to_status": row.target,
        "event": row.event.__name__,
        "actor": "someone",
        "role": role,
        "at": NOW,
        "reason": "because",
    }


@pytest.mark.parametrize(("step", "source"), DISALLOWED, ids=lambda v: str(v))
def test_every_disallowed_transition_is_refused_and_changes_nothing(
    step: Step, source: ExamStatus
) -> None:
    recorder, subject = Recorder(), exam(source)
    with pytest.raises(InvalidTransition) as failure:
        transition(
            subject,
            step,
            actor=Actor("admin", Role.ADMIN),
            at=NOW,
            facts=Facts(),
            recorder=recorder,
        )
    assert subject.status == source
    assert recorder.events == []
    assert failure.value.status == source.value
    assert set(failure.value.allowed) == {s.value for st, s in ALLOWED if st == step}


ROLE_CASES = [(t.step, t.source, role) for t in TRANSITIONS for role in Role if role not in t.roles]


@pytest.mark.parametrize(("step", "source", "role"), ROLE_CASES, ids=lambda v: str(v))
def test_roles_outside_a_transition_are_not_permitted(
    step: Step, source: ExamStatus, role: Role
) -> None:
    recorder, subject = Recorder(), exam(source)
    with pytest.raises(NotPermitted):
        transition(subject, step, actor=Actor("x", role), at=NOW, facts=Facts(), recorder=recorder)
    assert subject.status == source and recorder.events == []


GUARD_CASES = [
    (Step.START_ACQUISITION, ExamStatus.PREPARED, Facts(prep=False), "PREP_INCOMPLETE"),
    (Step.START_ACQUISITION, ExamStatus.CHECKED_IN, Facts(prep=False), "PREP_INCOMPLETE"),
    (Step.COMPLETE_PREP, ExamStatus.CHECKED_IN, Facts(prep=False), "PREP_INCOMPLETE"),
    (Step.REGISTER_STORAGE, ExamStatus.ACQUIRED, Facts(metadata=False), "METADATA_NOT_VALIDATED"),
    (Step.SIGN_PRELIMINARY, ExamStatus.IN_INTERPRETATION, Facts(report=False), "REPORT_INCOMPLETE"),
    (Step.SIGN_FINAL, ExamStatus.PRELIMINARY, Facts(report=False), "REPORT_INCOMPLETE"),
    (Step.NOTIFY_RESULT, ExamStatus.FINAL, Facts(final=False), "NO_FINAL_REPORT"),
    (
        Step.CLOSE,
        ExamStatus.COMMUNICATED,
        Facts(acknowledged=False),
        "CRITICAL_RESULT_UNACKNOWLEDGED",
    ),
]


@pytest.mark.parametrize(("step", "source", "facts", "code"), GUARD_CASES, ids=lambda v: str(v))
def test_each_guard_blocks_its_transition(
    step: Step, source: ExamStatus, facts: Facts, code: str
) -> None:
    row = find_transition(step, source)
    assert row is not None
    recorder, subject = Recorder(), exam(source)
    with pytest.raises(PreconditionFailed) as failure:
        transition(
            subject,
            step,
            actor=Actor("x", sorted(row.roles)[0]),
            at=NOW,
            facts=facts,
            recorder=recorder,
        )
    assert failure.value.code == code
    assert subject.status == source and recorder.events == []


@pytest.mark.parametrize(
    ("priority", "patient_class", "allowed"),
    [
        (Priority.STAT, PatientClass.OUTPATIENT, True),
        (Priority.ROUTINE, PatientClass.ED, True),
        (Priority.URGENT, PatientClass.INPATIENT, False),
        (Priority.ROUTINE, PatientClass.OUTPATIENT, False),
    ],
)
def test_only_stat_or_ed_exams_skip_scheduling(
    priority: Priority, patient_class: PatientClass, allowed: bool
) -> None:
    subject = exam(ExamStatus.ORDERED, priority=priority, patient_class=patient_class)
    actor = Actor("desk", Role.SCHEDULER)
    if allowed:
        transition(subject, Step.CHECK_IN, actor=actor, at=NOW, facts=Facts(), recorder=Recorder())
        assert subject.status == ExamStatus.CHECKED_IN
    else:
        with pytest.raises(PreconditionFailed):
            transition(
                subject, Step.CHECK_IN, actor=actor, at=NOW, facts=Facts(), recorder=Recorder()
            )


def test_cancelling_is_possible_exactly_until_images_are_acquired() -> None:
    # An acquisition in progress may still be broken off for good (MPPS DISCONTINUED because
    # the patient refused, say); once the images are acquired the exam is read, not cancelled.
    cancellable = {t.source for t in TRANSITIONS if t.step == Step.CANCEL}
    assert cancellable == {
        ExamStatus.ORDERED,
        ExamStatus.SCHEDULED,
        ExamStatus.CHECKED_IN,
        ExamStatus.PREPARED,
        ExamStatus.IN_ACQUISITION,
    }
    in_progress = find_transition(Step.CANCEL, ExamStatus.IN_ACQUISITION)
    assert in_progress is not None and Role.PATIENT not in in_progress.roles


def test_an_addendum_keeps_the_status() -> None:
    amending = [t for t in TRANSITIONS if t.step == Step.ADD_ADDENDUM]
    assert amending and all(t.source == t.target for t in amending)
