"""The audit trail of one request: what it touched, and the record that says so.

The API opens a `Trail` per GraphQL operation (who, from where, which operation). While it
runs, every exam and patient built for the response is noted (`touch_exam`, `touch_patient`),
as is every refusal and failure. A command writes the record inside its own transaction
(`command_records`, written by `Database` just before commit: the change and its audit
record commit or roll back together); a read, a refusal or a failed command gets its record
when the operation ends (`Database.write_audit`). Commands of the system (the balancer) have
no trail.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Session

from domain.lifecycle import Actor
from domain.models import AuditEvent, Exam, Patient
from domain.prepared import PreparedStatement
from domain.tables import AUDIT_EVENTS, EXAMS, PATIENTS

AUDIT_COLUMNS = (
    "recorded_at",
    "event_type",
    "action",
    "outcome",
    "reason",
    "user_id",
    "role",
    "client_address",
    "operation",
    "patient_mrns",
    "exam_ids",
)
_INSERT = PreparedStatement(sa.insert(AUDIT_EVENTS), AUDIT_COLUMNS)  # compiled once per dialect
MAX_LISTED = 500  # ids listed per record; a bigger read notes how many more there were


class AuditEventType(StrEnum):
    """What kind of access a record is about (IHE ATNA event identification)."""

    PATIENT_RECORD = "PATIENT_RECORD"
    SECURITY_ALERT = "SECURITY_ALERT"  # a refused call
    AUDIT_LOG_USED = "AUDIT_LOG_USED"


class AuditAction(StrEnum):
    """What the operation did, in ATNA's action codes."""

    CREATE = "C"
    READ = "R"
    UPDATE = "U"
    DELETE = "D"
    EXECUTE = "E"


class AuditOutcome(StrEnum):
    """Whether the operation succeeded."""

    SUCCESS = "SUCCESS"
    FAILURE = "FAILURE"


@dataclass
class Recorded:
    """What an operation's written records listed."""

    exam_ids: set[int] = field(default_factory=set)
    patient_ids: set[int] = field(default_factory=set)
    mrns: set[str] = field(default_factory=set)
    failures: int = 0

    def copy(self) -> Recorded:
        return Recorded(set(self.exam_ids), set(self.patient_ids), set(self.mrns), self.failures)


@dataclass
class Trail:
    """What one operation did with patient data, as far as it has gone."""

    actor: Actor
    client_address: str | None
    operation: str
    action: AuditAction
    event_type: AuditEventType = AuditEventType.PATIENT_RECORD
    exam_ids: set[int] = field(default_factory=set)
    patient_ids: set[int] = field(default_factory=set)
    mrns: set[str] = field(default_factory=set)
    # Exams whose patient is already known (by MRN or id), patients whose MRN is: what the
    # record need not look up.
    exams_placed: set[int] = field(default_factory=set)
    patients_named: set[int] = field(default_factory=set)
    failures: list[str] = field(default_factory=list)
    denied: bool = False
    written: bool = False  # a command already wrote a record in its transaction
    always: bool = False  # audit even when no patient data was touched (mutations, audit log)
    # What the records written so far listed: an exam, patient or failure noted after them
    # (a second mutation field of the same operation) owes another record.
    recorded: Recorded = field(default_factory=Recorded)

    def note_exam(
        self, exam_id: int | None, *, patient_id: int | None = None, mrn: str | None = None
    ) -> None:
        """An exam the operation touched, and whose it is when known (no lookup then)."""
        if exam_id is None:
            return
        self.exam_ids.add(exam_id)
        if mrn:
            self.mrns.add(mrn)
            self.exams_placed.add(exam_id)
        elif patient_id is not None:
            self.patient_ids.add(patient_id)
            self.exams_placed.add(exam_id)

    def note_patient(self, patient_id: int | None, mrn: str | None = None) -> None:
        """A patient the operation touched, by id, MRN or both (both: no lookup then)."""
        if patient_id is not None:
            self.patient_ids.add(patient_id)
        if mrn:
            self.mrns.add(mrn)
            if patient_id is not None:
                self.patients_named.add(patient_id)

    def touched(self) -> bool:
        return bool(self.exam_ids or self.patient_ids or self.mrns)

    def needs_record(self) -> bool:
        """Whether the operation still owes a record (when a command ends, or it does)."""
        if not self.written:
            return self.always or self.denied or bool(self.failures) or self.touched()
        done = self.recorded
        return bool(
            self.exam_ids - done.exam_ids
            or self.patient_ids - done.patient_ids
            or self.mrns - done.mrns
            or len(self.failures) > done.failures
        )

    def unrecorded(self) -> Trail:
        """What the next record lists: the whole trail before any record was written, else
        what was noted since (its exams' patients looked up afresh)."""
        if not self.written:
            return self
        done = self.recorded
        return replace(
            self,
            exam_ids=self.exam_ids - done.exam_ids,
            patient_ids=self.patient_ids - done.patient_ids,
            mrns=self.mrns - done.mrns,
            exams_placed=set(),
            patients_named=self.patients_named - done.patient_ids,
            failures=self.failures[done.failures :],
            recorded=Recorded(),
        )

    def mark_recorded(self, listed: Trail, listed_mrns: Iterable[str]) -> None:
        """A record of `listed` (this trail's `unrecorded()`, its exams' patients looked up
        into it) listing these MRNs was written: all noted so far is recorded."""
        self.written = True
        done = self.recorded
        done.exam_ids |= self.exam_ids
        done.patient_ids |= self.patient_ids | listed.patient_ids
        done.mrns |= self.mrns | set(listed_mrns)
        done.failures = len(self.failures)

    def checkpoint(self) -> tuple[bool, Recorded]:
        """What `restore` takes back to, should the records written after it roll back."""
        return self.written, self.recorded.copy()

    def restore(self, checkpoint: tuple[bool, Recorded]) -> None:
        """The records written since `checkpoint` rolled back: the operation owes them."""
        self.written, self.recorded = checkpoint


current_trail: ContextVar[Trail | None] = ContextVar("radflow_audit_trail", default=None)


def touch_exam(
    exam_id: int | None, *, patient_id: int | None = None, mrn: str | None = None
) -> None:
    """Note that the current operation read or changed this exam (and whose it is, if known)."""
    trail = current_trail.get()
    if trail is not None:
        trail.note_exam(exam_id, patient_id=patient_id, mrn=mrn)


def touch_patient(patient_id: int | None, mrn: str | None = None) -> None:
    """Note that the current operation read or changed this patient's record."""
    trail = current_trail.get()
    if trail is not None:
        trail.note_patient(patient_id, mrn)


def note_failure(reason: str, *, denied: bool = False) -> None:
    """Note a refusal or a failed command (its record will say FAILURE and why)."""
    trail = current_trail.get()
    if trail is not None:
        trail.failures.append(reason)
        trail.denied = trail.denied or denied


def command_records(
    session: Session,
    trail: Trail | None,
    now: datetime,
    named: dict[int, str] | None = None,
    events: Iterable[object] = (),
    exams: dict[int, int] | None = None,
) -> list[dict[str, object]]:
    """The record a command writes in its own transaction, listing everything the session
    loaded, every exam its `events` name (an order's new exam is in no session), the `exams`
    it answers with unchanged (by id, with their patients) and the patients in `named` (whose
    MRN the command already knows). None if its operation has no trail, or if the operation's
    records already list all it touched (a second command of one operation records what it
    added). The trail counts it written: a transaction that does not commit must take that
    back (`Database` does, with `Trail.restore`)."""
    if trail is None:
        return []
    for patient_id, mrn in (named or {}).items():
        trail.note_patient(patient_id, mrn)
    for instance in list(session.identity_map.values()):
        if isinstance(instance, Exam):
            trail.note_exam(instance.id, patient_id=instance.patient_id)
        elif isinstance(instance, Patient):
            trail.note_patient(instance.id, instance.mrn)
    for event in events:
        trail.note_exam(getattr(event, "exam_id", None))
    for exam_id, patient_id in (exams or {}).items():
        trail.note_exam(exam_id, patient_id=patient_id)
    if trail.written and not trail.needs_record():
        return []  # the operation's records already list all this command touched
    view = trail.unrecorded()
    record = record_values(session.connection(), view, now)
    listed = record["patient_mrns"]
    assert isinstance(listed, list)
    trail.mark_recorded(view, listed)
    return [record]


def write_records(connection: sa.Connection, trails: list[tuple[Trail, datetime]]) -> None:
    """Insert the records of several operations with one statement."""
    records = [record_values(connection, trail.unrecorded(), at) for trail, at in trails]
    insert_records(connection, records)


def insert_records(connection: sa.Connection, records: Sequence[dict[str, object]]) -> None:
    """Insert records (`record_values`) in the connection's transaction."""
    _INSERT.execute(connection, records)


def record_values(connection: sa.Connection, trail: Trail, now: datetime) -> dict[str, object]:
    """The columns of an operation's record (its patients' MRNs looked up from the ids it
    touched, unless the operation already saw them; the patients looked up are noted on
    `trail`)."""
    exam_ids = sorted(trail.exam_ids)
    unplaced = [e for e in exam_ids[:MAX_LISTED] if e not in trail.exams_placed]
    if unplaced:
        for patient_id, mrn in connection.execute(
            sa.select(PATIENTS.c.id, PATIENTS.c.mrn)
            .join(EXAMS, EXAMS.c.patient_id == PATIENTS.c.id)
            .where(EXAMS.c.id.in_(unplaced))
        ):
            trail.note_patient(patient_id, mrn)
    unnamed = sorted(trail.patient_ids - trail.patients_named)[:MAX_LISTED]
    if unnamed:
        for patient_id, mrn in connection.execute(
            sa.select(PATIENTS.c.id, PATIENTS.c.mrn).where(PATIENTS.c.id.in_(unnamed))
        ):
            trail.note_patient(patient_id, mrn)
    mrns = set(trail.mrns)
    reason = "; ".join(trail.failures)[:500] or None
    if len(exam_ids) > MAX_LISTED:
        reason = (reason + "; " if reason else "") + f"{len(exam_ids) - MAX_LISTED} more exams"
    return {
        "recorded_at": now,
        "event_type": (
            AuditEventType.SECURITY_ALERT if trail.denied else AuditEventType(trail.event_type)
        ).value,
        "action": AuditAction(trail.action).value,
        "outcome": (AuditOutcome.FAILURE if trail.failures else AuditOutcome.SUCCESS).value,
        "reason": reason,
        "user_id": trail.actor.id[:64],
        "role": trail.actor.role.value,
        "client_address": trail.client_address,
        "operation": trail.operation[:200],
        "patient_mrns": sorted(mrns)[:MAX_LISTED],
        "exam_ids": exam_ids[:MAX_LISTED],
    }


def search(
    session: Session,
    *,
    user_id: str | None = None,
    patient_mrn: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    first: int = 50,
    before_id: int | None = None,
) -> list[AuditEvent]:
    """Audit records, newest first, filtered (the audit log's own reader)."""
    query = sa.select(AuditEvent)
    table = AUDIT_EVENTS.c
    if user_id:
        query = query.where(table.user_id == user_id)
    if since is not None:
        query = query.where(table.recorded_at >= since)
    if until is not None:
        query = query.where(table.recorded_at < until)
    if before_id is not None:
        query = query.where(table.id < before_id)
    rows: Iterable[AuditEvent] = session.scalars(
        query.order_by(table.id.desc()).limit(first if not patient_mrn else first * 20)
    )
    out = [r for r in rows if not patient_mrn or patient_mrn in r.patient_mrns]
    return out[:first]
