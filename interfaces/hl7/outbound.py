"""HL7 v2 out: the department's events, as the EHR and the PACS expect them, never lost.

For each configured destination (`RADFLOW_HL7_DESTINATIONS`, `NAME=host:port,...`) the sender
walks the outbox in event order from its cursor (`outbound_cursors`): an order's status change
becomes ORM^O01 (ORC-1 SC with ORC-5 SC scheduled, IP arrived or in progress, CM performed; OC
with CA for a cancellation), a signed or amended report ORU^R01 (OBR-25 P, F or C; one OBX per
template field, coded values as CWE, the impression flagged AA when critical, the addenda).
A message is sent, its ACK awaited, and only an AA or CA moves the cursor (`interfaces.cursors`,
shared with FHIR's REST hooks): a destination that is down, slow or refusing holds its queue (in
event order, so per patient too) and is retried with a doubling backoff, visible in
`outbound_cursors` and /metrics; outbox pruning waits for it. MSH-10 is `RF<event id>`, the
same on every attempt, so a receiver can drop a duplicate (the one case: a sender stopped
between the ACK and the cursor's commit sends it again).

A destination named in `RADFLOW_HL7_CHARGE_DESTINATIONS` is also sent a DFT^P03 when an exam
is performed (ExamAcquired), after its ORM: FT1 with the procedure's CPT code and the
department's charge (MSH-10 `RF<event id>C`). Both messages must be acknowledged before the
cursor moves past the event.

It runs on the balancer's leader (one sender per destination across replicas).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import hl7
import sqlalchemy as sa
from hl7.mllp import HL7StreamReader, HL7StreamWriter, open_hl7_connection
from sqlalchemy.orm import Session
from sqlmodel import col

from application.planning.leadership import Leadership
from domain.db import Database, UnitOfWork
from domain.enums import CriticalLevel, PatientClass
from domain.models import (
    Addendum,
    Appointment,
    Exam,
    OutboundCursor,
    OutboxEvent,
    Patient,
    Procedure,
    Referrer,
    Report,
    ReportTemplate,
    Site,
)
from domain.reporting import CODES, FieldKind, parse_sections
from interfaces import cursors

log = logging.getLogger("radflow.hl7.out")

PROTOCOL = "HL7V2"

# Outbox event type -> (message, ORC-5 order status or OBR-25 result status).
MESSAGES: Mapping[str, tuple[str, str]] = {
    "ExamScheduled": ("ORM", "SC"),
    "ExamRescheduled": ("ORM", "SC"),
    "PatientCheckedIn": ("ORM", "IP"),
    "AcquisitionStarted": ("ORM", "IP"),
    "ExamAcquired": ("ORM", "CM"),
    "ExamCancelled": ("ORM", "CA"),
    "ReportSignedPreliminary": ("ORU", "P"),
    "ReportSignedFinal": ("ORU", "F"),
    "ReportAmended": ("ORU", "C"),
}
CLASSES = {PatientClass.ED: "E", PatientClass.INPATIENT: "I", PatientClass.OUTPATIENT: "O"}
PRIORITIES = {"STAT": "S", "URGENT": "A", "ROUTINE": "R"}
CURRENCY = "USD"  # CPT charges are US charges


@dataclass(frozen=True)
class Destination:
    name: str
    host: str
    port: int
    charges: bool = False  # also sent DFT^P03 when an exam is performed


def parse_destinations(text: str | None, charges: str | None = None) -> tuple[Destination, ...]:
    """`EHR=10.1.2.3:2575,PACS=pacs:2575` (empty or unset: none); `charges`, e.g. `EHR`: the
    destinations also sent charges (each must be one of them)."""
    found = []
    for item in filter(None, (part.strip() for part in (text or "").split(","))):
        name, _, address = item.partition("=")
        host, _, port = address.rpartition(":")
        if not name or not host or not port.isdigit():
            raise ValueError(f"RADFLOW_HL7_DESTINATIONS: {item!r} is not NAME=host:port")
        found.append(Destination(name.strip(), host.strip(), int(port)))
    charged = {part.strip() for part in (charges or "").split(",") if part.strip()}
    unknown = charged - {d.name for d in found}
    if unknown:
        raise ValueError(
            f"RADFLOW_HL7_CHARGE_DESTINATIONS: {', '.join(sorted(unknown))} is not a destination "
            "of RADFLOW_HL7_DESTINATIONS"
        )
    return tuple(replace(d, charges=d.name in charged) for d in found)


def hl7_time(moment: datetime | None) -> str:
    return moment.strftime("%Y%m%d%H%M%S") if moment is not None else ""


class Text:
    """Escapes values with the message's encoding characters (python-hl7's own escaping)."""

    _base = hl7.parse("MSH|^~\\&|RADFLOW")

    @classmethod
    def of(cls, value: object) -> str:
        lines = str(value if value is not None else "").splitlines() or [""]
        return "\\.br\\".join(str(cls._base.escape(line)) for line in lines)


def build_message(session: Session, event: OutboxEvent, destination: str) -> str | None:
    """The message for one outbox event (None: the exam is gone, nothing to say)."""
    kind, status = MESSAGES[event.type]
    exam = session.get(Exam, event.exam_id) if event.exam_id is not None else None
    if exam is None:
        return None
    patient = session.get(Patient, exam.patient_id)
    procedure = session.get(Procedure, exam.procedure_id)
    referrer = session.get(Referrer, exam.referrer_id)
    site = session.get(Site, exam.site_id)
    assert patient is not None and procedure is not None and site is not None
    t = Text.of
    message_type = "ORM^O01^ORM_O01" if kind == "ORM" else "ORU^R01^ORU_R01"
    placer = f"{t(exam.placer_order_number)}^{t(exam.order_source)}"
    filler = f"{t(exam.accession_number)}^RADFLOW"
    service = f"{t(procedure.code)}^{t(procedure.name)}^L"
    ordering = t(referrer.code) if referrer is not None else ""
    segments = [
        f"MSH|^~\\&|RADFLOW|{t(site.code)}|{t(destination)}||{hl7_time(event.occurred_at)}||"
        f"{message_type}|RF{event.id}|P|2.5.1",
        f"PID|1||{t(patient.mrn)}^^^RADFLOW^MR||{t(patient.family_name)}^{t(patient.given_name)}"
        f"||{patient.birth_date.strftime('%Y%m%d')}|{t(patient.sex)}",
        f"PV1|1|{CLASSES.get(exam.patient_class, 'O')}",
    ]
    if kind == "ORM":
        control = "OC" if status == "CA" else "SC"
        appointment = session.scalars(
            sa.select(Appointment)
            .where(col(Appointment.exam_id) == exam.id)
            .order_by(col(Appointment.booked_at).desc())
        ).first()
        start = hl7_time(appointment.starts_at) if appointment is not None else ""
        segments += [
            f"ORC|{control}|{placer}|{filler}||{status}|||||||{ordering}",
            f"TQ1|1||||||{start}||{PRIORITIES[exam.priority.value]}",
            f"OBR|1|{placer}|{filler}|{service}" + "|" * 12 + ordering,
        ]
        return "\r".join(segments)
    report = session.scalars(sa.select(Report).where(col(Report.exam_id) == exam.id)).first()
    if report is None:
        return None
    signed = report.final_at or report.preliminary_at
    obr = ["OBR", "1", placer, filler, service] + [""] * 23
    obr[7] = hl7_time(exam.ordered_at)
    obr[16] = ordering
    obr[22] = hl7_time(event.occurred_at)
    obr[25] = status
    segments += [f"ORC|RE|{placer}|{filler}||CM|||||||{ordering}", "|".join(obr)]
    segments += observations(session, procedure, report, status, signed)
    return "\r".join(segments)


def build_messages(session: Session, event: OutboxEvent, destination: Destination) -> list[str]:
    """What one outbox event becomes for this destination: its message, and for a destination
    of charges a performed exam's DFT^P03 after it (none: nothing to say)."""
    found = build_message(session, event, destination.name)
    if found is None:
        return []
    if destination.charges and event.type == "ExamAcquired":
        charge = build_charge(session, event, destination.name)
        return [found] if charge is None else [found, charge]
    return [found]


def build_charge(session: Session, event: OutboxEvent, destination: str) -> str | None:
    """DFT^P03: the performed exam's charge (None when its procedure has no CPT code or charge:
    logged, as it is the catalogue that must be mended)."""
    exam = session.get(Exam, event.exam_id) if event.exam_id is not None else None
    if exam is None:
        return None
    procedure = session.get(Procedure, exam.procedure_id)
    patient = session.get(Patient, exam.patient_id)
    referrer = session.get(Referrer, exam.referrer_id)
    site = session.get(Site, exam.site_id)
    assert procedure is not None and patient is not None and site is not None
    if procedure.cpt_code is None or procedure.charge_cents is None:
        log.warning(
            "HL7 to %s: exam %s performed, but procedure %s has no CPT code or charge: no DFT",
            destination,
            exam.accession_number,
            procedure.code,
        )
        return None
    t = Text.of
    performed = hl7_time(event.occurred_at)
    amount = f"{procedure.charge_cents / 100:.2f}&{CURRENCY}"
    ft1 = ["FT1", "1"] + [""] * 25  # FT1-1 .. FT1-26
    ft1[2] = t(exam.accession_number)  # FT1-2 transaction id
    ft1[4] = performed  # FT1-4 transaction date (performed)
    ft1[5] = performed  # FT1-5 posting date
    ft1[6] = "CG"  # FT1-6 transaction type: charge
    ft1[7] = f"{t(procedure.code)}^{t(procedure.name)}^L"  # FT1-7 transaction code
    ft1[10] = "1"  # FT1-10 quantity
    ft1[11] = amount  # FT1-11 extended amount
    ft1[12] = amount  # FT1-12 unit amount
    ft1[21] = t(referrer.code) if referrer is not None else ""  # FT1-21 ordered by
    ft1[23] = f"{t(exam.accession_number)}^RADFLOW"  # FT1-23 filler order number
    ft1[25] = f"{t(procedure.cpt_code)}^{t(procedure.name)}^C4"  # FT1-25 procedure (CPT-4)
    return "\r".join(
        [
            f"MSH|^~\\&|RADFLOW|{t(site.code)}|{t(destination)}||{performed}||DFT^P03^DFT_P03|"
            f"RF{event.id}C|P|2.5.1",
            f"EVN|P03|{performed}",
            f"PID|1||{t(patient.mrn)}^^^RADFLOW^MR||{t(patient.family_name)}^"
            f"{t(patient.given_name)}||{patient.birth_date.strftime('%Y%m%d')}|{t(patient.sex)}",
            f"PV1|1|{CLASSES.get(exam.patient_class, 'O')}",
            "|".join(ft1),
        ]
    )


def observations(
    session: Session, procedure: Procedure, report: Report, status: str, signed: datetime | None
) -> list[str]:
    """One OBX per filled template field, the impression (AA when critical), the addenda."""
    t = Text.of
    template = (
        session.get(ReportTemplate, procedure.report_template_id)
        if procedure.report_template_id is not None
        else None
    )
    content: Mapping[str, Any] = report.content or {}
    rows: list[tuple[str, str, str, str]] = []  # (type, identifier, value, flag)
    for section in parse_sections(template.sections) if template is not None else ():
        values = content.get(section.key)
        values = values if isinstance(values, Mapping) else {}
        for spec in section.fields:
            value = str(values.get(spec.key, "")).strip()
            if not value:
                continue
            identifier = f"{t(section.key)}.{t(spec.key)}^{t(spec.label)}^L"
            if spec.kind == FieldKind.CODED and spec.code_system is not None:
                meaning = next(
                    (c.meaning for c in CODES[spec.code_system] if c.code == value), value
                )
                rows.append(("CWE", identifier, f"{t(value)}^{t(meaning)}^{spec.code_system}", ""))
            else:
                rows.append(("TX", identifier, t(value), ""))
    critical = "AA" if report.critical_level == CriticalLevel.CRITICAL else ""
    rows.append(("TX", "IMP^Impression^L", t(report.impression), critical))
    addenda = session.scalars(
        sa.select(Addendum)
        .where(col(Addendum.report_id) == report.id)
        .order_by(col(Addendum.created_at))
    )
    rows += [("TX", "ADD^Addendum^L", t(a.text), "") for a in addenda]
    return [
        f"OBX|{n}|{kind}|{identifier}||{value}|||{flag}|||{status}|||{hl7_time(signed)}"
        for n, (kind, identifier, value, flag) in enumerate(rows, start=1)
    ]


class Sender:
    """Sends one destination its messages, in outbox order, while this replica leads."""

    def __init__(
        self,
        db: Database,
        destination: Destination,
        *,
        ack_timeout: float = 30.0,
        poll_seconds: float = 0.5,
    ) -> None:
        self.db = db
        self.destination = destination
        self.ack_timeout = ack_timeout
        self.poll_seconds = poll_seconds
        self._connection: tuple[HL7StreamReader, HL7StreamWriter] | None = None
        self.wake = asyncio.Event()

    async def step(self) -> bool:
        """Send the next message if one is due; True when something moved (try again now)."""
        now = self.db.clock()
        cursor = await self.db.run(self._cursor)
        if cursors.held(cursor, now):
            return False
        found = await self.db.read(lambda s: self._next(s, cursor.position))
        if found is None:
            return False
        event_id, skipped_to, texts = found
        if not texts:  # events this destination does not take, up to `skipped_to`
            await self.db.run(lambda uow: self._advance(uow, skipped_to, delivered=False))
            return True
        code, detail = "AA", ""
        for text in texts:  # all acknowledged, or the event is tried again (same MSH-10s)
            try:
                code, detail = await self._send(text)
            except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError) as exc:
                self.close()
                code, detail = "", f"{type(exc).__name__}: {exc}"
            if code not in {"AA", "CA"}:
                break
        if code in {"AA", "CA"}:
            await self.db.run(lambda uow: self._advance(uow, event_id, delivered=True))
            return True
        reason = f"{code or 'no ACK'}: {detail}"[:500]
        log.warning(
            "HL7 to %s: event %d not delivered (%s)", self.destination.name, event_id, reason
        )
        await self.db.run(lambda uow: self._failed(uow, reason))
        return False

    def _cursor(self, uow: UnitOfWork) -> OutboundCursor:
        return cursors.open_cursor(uow, self.destination.name, PROTOCOL)

    def _next(self, session: Session, position: int) -> tuple[int, int, list[str]] | None:
        event = session.scalars(
            sa.select(OutboxEvent)
            .where(col(OutboxEvent.id) > position, col(OutboxEvent.type).in_(list(MESSAGES)))
            .order_by(col(OutboxEvent.id))
            .limit(1)
        ).first()
        if event is None:
            newest = session.scalar(sa.select(sa.func.max(OutboxEvent.id))) or 0
            return (0, int(newest), []) if newest > position else None
        assert event.id is not None
        return event.id, event.id, build_messages(session, event, self.destination)

    def _advance(self, uow: UnitOfWork, position: int, *, delivered: bool) -> None:
        cursors.advance(uow, self.destination.name, position, delivered=delivered)

    def _failed(self, uow: UnitOfWork, reason: str) -> None:
        cursors.failed(uow, self.destination.name, reason)

    async def _send(self, text: str) -> tuple[str, str]:
        if self._connection is None:
            opened: tuple[HL7StreamReader, HL7StreamWriter] = await asyncio.wait_for(
                open_hl7_connection(self.destination.host, self.destination.port, encoding="utf-8"),
                self.ack_timeout,
            )
            self._connection = opened
        reader, writer = self._connection
        writer.writemessage(hl7.parse(text))
        await writer.drain()
        ack = await asyncio.wait_for(reader.readmessage(), self.ack_timeout)
        code = str(ack.extract_field("MSA", field_num=1))
        detail = ""
        with contextlib.suppress(KeyError, IndexError):
            detail = str(ack.extract_field("MSA", field_num=3))
        return code, detail

    def close(self) -> None:
        """Hang up on the destination (the next message connects again)."""
        if self._connection is not None:
            self._connection[1].close()
            self._connection = None

    async def run(self, leadership: Leadership) -> None:
        try:
            while True:
                moved = False
                if leadership.leading:
                    try:
                        moved = await self.step()
                    except Exception:  # the database is away: try again after the poll
                        log.exception("HL7 to %s: step failed", self.destination.name)
                if not moved:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self.wake.wait(), self.poll_seconds)
                    self.wake.clear()
        finally:
            self.close()


class Outbound:
    """Every destination's sender, as tasks, started and stopped with the process."""

    def __init__(self, db: Database, destinations: Sequence[Destination], **options: float):
        self.senders = [Sender(db, d, **options) for d in destinations]
        self._tasks: list[asyncio.Task[None]] = []

    def start(self, leadership: Leadership) -> None:
        self._tasks = [asyncio.create_task(s.run(leadership)) for s in self.senders]

    def notice(self) -> None:
        """An event committed: look now rather than at the next poll."""
        for sender in self.senders:
            sender.wake.set()

    async def status(self, db: Database) -> dict[str, dict[str, object]]:
        """Each destination's cursor: how far it is, how far behind, and why it is stuck."""

        def query(session: Session) -> dict[str, dict[str, object]]:
            newest = session.scalar(sa.select(sa.func.max(OutboxEvent.id))) or 0
            found = {}
            for sender in self.senders:
                cursor = session.get(OutboundCursor, sender.destination.name)
                position = cursor.position if cursor is not None else newest
                found[sender.destination.name] = {
                    "position": position,
                    "behind_events": max(0, int(newest) - position),
                    "delivered": cursor.delivered if cursor is not None else 0,
                    "attempts": cursor.attempts if cursor is not None else 0,
                    "last_error": cursor.last_error if cursor is not None else None,
                }
            return found

        return await db.read(query, bounded=True)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
