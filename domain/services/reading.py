"""Stages 7-8: reads on worklists, opening a study, structured reports and addenda."""

from __future__ import annotations

from domain import events as ev
from domain.enums import (
    CriticalLevel,
    ExamStatus,
    NotificationStatus,
    NotificationTemplate,
    ReportStatus,
    Role,
)
from domain.errors import (
    FieldIssue,
    IssueCode,
    NotFound,
    NotPermitted,
    ReportIncomplete,
    ValidationFailed,
)
from domain.lifecycle import Actor, Step, ensure_step_allowed, transition
from domain.models import (
    Addendum,
    Exam,
    Notification,
    Procedure,
    Radiologist,
    Read,
    Report,
)
from domain.paces import procedure_group, read_log_ratio
from domain.reporting import TEXT_LIMIT as REPORT_TEXT_LIMIT
from domain.repositories import UnitOfWork
from domain.services._common import (
    Checks,
    GuardFacts,
    load_exam,
    template_sections,
    unsignable,
)
from domain.types import pk

EDITABLE = {ExamStatus.IN_INTERPRETATION, ExamStatus.PRELIMINARY}


def current_read(uow: UnitOfWork, exam_id: int) -> Read | None:
    """The exam's current assignment, if any."""
    return uow.reads.current(exam_id)


def _acting_radiologist(uow: UnitOfWork, actor: Actor) -> Radiologist:
    if actor.role != Role.RADIOLOGIST:
        raise NotPermitted("only a radiologist may do this")
    radiologist = uow.department.find(Radiologist, "code", actor.id)
    if radiologist is None:
        raise NotPermitted(f"{actor.id} is not a known radiologist")
    return radiologist


def _reader_and_read(
    uow: UnitOfWork, actor: Actor, exam_id: int
) -> tuple[Radiologist, Read | None]:
    """The acting radiologist and the exam's current read: one lookup when the read is theirs
    (the usual case), the radiologist looked up by code otherwise."""
    if actor.role != Role.RADIOLOGIST:
        raise NotPermitted("only a radiologist may do this")
    found = uow.reads.current_with_reader(exam_id)
    if found is not None and found[1].code == actor.id:
        return found[1], found[0]
    return _acting_radiologist(uow, actor), None if found is None else found[0]


def open_read(
    *, uow: UnitOfWork, actor: Actor, exam_id: int, expected_version: int | None = None
) -> Read:
    """The assigned radiologist opens the study; from now on it is never moved."""
    radiologist, read = _reader_and_read(uow, actor, exam_id)
    exam = load_exam(uow, exam_id, expected_version=expected_version)
    if exam.status == ExamStatus.READY_FOR_READ and (
        read is None or read.radiologist_id != radiologist.id
    ):
        raise ValidationFailed(
            [
                FieldIssue(
                    "exam_id", IssueCode.NOT_ON_YOUR_WORKLIST, "the study is not on your worklist"
                )
            ]
        )
    transition(
        exam, Step.OPEN_READ, actor=actor, at=uow.now, facts=GuardFacts(uow, exam), recorder=uow
    )
    assert read is not None
    read.opened_at = uow.now
    read.pinned = True
    return read


# How a read ended when someone gave the opened study back (Read.end_reason).
HANDED_BACK = "HANDED_BACK"  # by its reader, who is not given it again
RELEASED = "RELEASED"  # by a supervisor, or by the balancer's leader for an absent reader
RELEASE_ENDINGS = (HANDED_BACK, RELEASED)


def release_read(
    *, uow: UnitOfWork, actor: Actor, exam_id: int, reason: str, expected_version: int | None = None
) -> Read:
    """Give an opened study back to the balancer, with a reason: its reader hands it back, or
    a supervisor releases it from someone else (absent, stuck). A report draft stays with the
    study for whoever reads it next."""
    checks = Checks()
    checks.text(reason, "reason", max_length=400)
    checks.done()
    exam = load_exam(uow, exam_id, expected_version=expected_version)
    ensure_step_allowed(exam, Step.RELEASE_READ)
    read = current_read(uow, exam_id)
    if read is None or read.opened_at is None:
        raise ValidationFailed(
            [FieldIssue("exam_id", IssueCode.NOT_OPENED, "the study has no opened read to release")]
        )
    holder = uow.department.get(Radiologist, read.radiologist_id)
    assert holder is not None
    if actor.role == Role.RADIOLOGIST:
        if holder.code != actor.id:
            raise NotPermitted(
                "only the radiologist reading this study may hand it back "
                "(a supervisor may release it)"
            )
        return release(
            uow=uow,
            actor=actor,
            exam=exam,
            read=read,
            ending=HANDED_BACK,
            note=f"handed back by {holder.code}: {reason.strip()}",
        )
    return release(
        uow=uow,
        actor=actor,
        exam=exam,
        read=read,
        ending=RELEASED,
        note=f"released from {holder.code} by {actor.id}: {reason.strip()}",
    )


def release(
    *, uow: UnitOfWork, actor: Actor, exam: Exam, read: Read, ending: str, note: str
) -> Read:
    """End an opened read and return the study to the balancer (the lifecycle step, its
    history row and event); `note` says who and why, and goes onto the next assignment."""
    transition(
        exam,
        Step.RELEASE_READ,
        actor=actor,
        at=uow.now,
        facts=GuardFacts(uow, exam),
        recorder=uow,
        reason=note[:500],
    )
    read.ended_at, read.end_reason, read.end_note = uow.now, ending, note[:500]
    read.pinned = False
    return read


def _own_report(
    uow: UnitOfWork, actor: Actor, exam: Exam
) -> tuple[Radiologist, Read, Report | None]:
    """The acting radiologist, their read of the exam and the exam's report, in one lookup;
    NotPermitted unless the current read is theirs."""
    if actor.role != Role.RADIOLOGIST:
        raise NotPermitted("only a radiologist may do this")
    found = uow.reads.current_with_report(pk(exam))
    if found is None or found[1].code != actor.id:
        _acting_radiologist(uow, actor)  # a caller who is no known radiologist is told so
        raise NotPermitted("only the radiologist reading this study may report it")
    read, radiologist, report = found
    return radiologist, read, report


def _content(
    uow: UnitOfWork, exam: Exam, sections: dict[str, dict[str, str]]
) -> dict[str, dict[str, str]]:
    """The sent sections, checked against the template: known sections and fields, bounded
    text, and a coded field's value among its codes (drafts may leave fields empty)."""
    template = {s.key: {f.key: f for f in s.fields} for s in template_sections(uow, exam)}
    checks = Checks()
    for section, fields in sections.items():
        if template and section not in template:
            checks.require(
                False,
                f"sections.{section}",
                IssueCode.UNKNOWN_SECTION,
                f"the template has no section {section!r}",
            )
            continue
        for key, value in fields.items():
            path = f"sections.{section}.{key}"
            spec = template.get(section, {}).get(key)
            if template and spec is None:
                checks.require(
                    False,
                    path,
                    IssueCode.UNKNOWN_FIELD,
                    f"section {section!r} has no field {key!r}",
                )
                continue
            checks.text(value, path, max_length=REPORT_TEXT_LIMIT, required=False)
            if spec is not None and value.strip():
                checks.require(
                    spec.accepts(value.strip()),
                    path,
                    IssueCode.INVALID_VALUE,
                    "must be one of " + ", ".join(c.code for c in spec.codes),
                )
    checks.done()
    return sections


def save_report_draft(
    *,
    uow: UnitOfWork,
    actor: Actor,
    exam_id: int,
    sections: dict[str, dict[str, str]],
    impression: str,
    critical_level: CriticalLevel = CriticalLevel.NONE,
    expected_version: int | None = None,
) -> Report:
    """Save the report being written (merging sections into the draft).

    `expected_version` is the exam version the writer last read: a draft saved meanwhile (by
    another tab, or a signing) bumps it, and the stale save is refused instead of overwriting.
    """
    checks = Checks()
    checks.text(impression, "impression", max_length=REPORT_TEXT_LIMIT, required=False)
    checks.done()
    exam = load_exam(uow, exam_id, expected_version=expected_version)
    if exam.status not in EDITABLE:
        raise ValidationFailed(
            [
                FieldIssue(
                    "exam_id",
                    IssueCode.NOT_EDITABLE,
                    f"a report can be edited while the exam is in "
                    f"interpretation or preliminary (is {exam.status})",
                )
            ]
        )
    radiologist, _, report = _own_report(uow, actor, exam)
    content = _content(uow, exam, sections)
    if report is None:
        report = Report(
            exam_id=exam_id,
            radiologist_id=pk(radiologist),
            status=ReportStatus.DRAFT,
            content={},
            created_at=uow.now,
            updated_at=uow.now,
        )
        uow.add(report)
    report.radiologist_id = pk(radiologist)  # a draft left by a released read is theirs now
    merged = {k: dict(v) for k, v in report.content.items()}
    for section, fields in content.items():
        merged.setdefault(section, {}).update(fields)
    report.content = merged
    report.impression = impression.strip()
    report.critical_level = critical_level
    report.updated_at = uow.now
    # The draft is part of the exam others read: saving it changes the exam's version, so a
    # writer still holding the old version gets a Conflict instead of overwriting this draft.
    uow.exams.touch(exam)
    uow.flush()
    assert report.id is not None
    uow.emit(
        ev.ReportDraftSaved(
            at=uow.now, actor=actor.id, role=actor.role, exam_id=exam_id, report_id=report.id
        )
    )
    return report


def _sign(
    uow: UnitOfWork,
    actor: Actor,
    exam_id: int,
    step: Step,
    status: ReportStatus,
    expected_version: int | None,
) -> Report:
    exam = load_exam(uow, exam_id, expected_version=expected_version)
    ensure_step_allowed(exam, step)
    _, read, report = _own_report(uow, actor, exam)
    # Every field at fault at once, so the form can mark them all (the lifecycle's guard
    # below would only say that something is missing).
    missing = unsignable(uow, exam, report)
    if missing:
        raise ReportIncomplete(missing)
    assert report is not None
    transition(
        exam,
        step,
        actor=actor,
        at=uow.now,
        facts=GuardFacts(uow, exam, report=report),
        recorder=uow,
    )
    report.status = status
    if status == ReportStatus.PRELIMINARY:
        report.preliminary_at = uow.now
    else:
        report.final_at = uow.now
        read.ended_at, read.end_reason = uow.now, "REPORTED"
        _learn_pace(uow, exam, read)
    return report


def _learn_pace(uow: UnitOfWork, exam: Exam, read: Read) -> None:
    """The finished read's opened -> signed minutes, added to its reader's pace for the
    procedure's group (the modality) in this transaction; a read never opened, or too short or
    long to have been a read of the study, teaches nothing (`domain.paces.read_log_ratio`)."""
    if read.opened_at is None:
        return
    procedure = uow.department.get(Procedure, exam.procedure_id)
    if procedure is None:
        return
    minutes = (uow.now - read.opened_at).total_seconds() / 60.0
    log_ratio = read_log_ratio(minutes, float(procedure.read_minutes))
    if log_ratio is None:
        return
    uow.reads.record_pace(
        radiologist_id=read.radiologist_id,
        procedure_group=procedure_group(procedure.modality),
        log_ratio=log_ratio,
        at=uow.now,
    )


def sign_preliminary(
    *, uow: UnitOfWork, actor: Actor, exam_id: int, expected_version: int | None = None
) -> Report:
    """Sign a preliminary report (e.g. a wet read for the ED)."""
    return _sign(
        uow, actor, exam_id, Step.SIGN_PRELIMINARY, ReportStatus.PRELIMINARY, expected_version
    )


def sign_final(
    *, uow: UnitOfWork, actor: Actor, exam_id: int, expected_version: int | None = None
) -> Report:
    """Sign the final report; the read is finished."""
    return _sign(uow, actor, exam_id, Step.SIGN_FINAL, ReportStatus.FINAL, expected_version)


def add_addendum(*, uow: UnitOfWork, actor: Actor, exam_id: int, text: str) -> Addendum:
    """Amend a signed report: the original stays, the addendum is added and recorded."""
    checks = Checks()
    checks.text(text, "text", max_length=REPORT_TEXT_LIMIT)
    checks.done()
    radiologist = _acting_radiologist(uow, actor)
    exam = load_exam(uow, exam_id)
    report = uow.reports.of_exam(exam_id)
    transition(
        exam,
        Step.ADD_ADDENDUM,
        actor=actor,
        at=uow.now,
        facts=GuardFacts(uow, exam),
        recorder=uow,
        reason="addendum",
    )
    if report is None:
        raise NotFound("report", exam.accession_number, field="exam_id")
    addendum = Addendum(
        report_id=pk(report), radiologist_id=pk(radiologist), text=text.strip(), created_at=uow.now
    )
    uow.add(addendum)
    _tell_who_received_the_original(uow, exam_id)
    return addendum


def _tell_who_received_the_original(uow: UnitOfWork, exam_id: int) -> None:
    """A report amended after its result was communicated: whoever received it is told
    (REPORT_AMENDED, by the channel the result went by)."""
    communication = uow.reports.latest_communication(exam_id)
    if communication is None:
        return
    uow.append(
        Notification,
        {
            "exam_id": exam_id,
            "recipient_kind": "referrer",
            "recipient_id": communication.referrer_id,
            "channel": communication.channel,
            "template": NotificationTemplate.REPORT_AMENDED,
            "send_at": uow.now,
            "status": NotificationStatus.QUEUED,
            "created_at": uow.now,
            "payload": {"communicatedAt": communication.notified_at.isoformat()},
        },
    )
