"""An inbound HL7 v2 message, run as the application's commands, and the ACK that answers it.

Accepted (MSH-9): ORM^O01 and OMI^O23 with ORC-1 NW (a new order: placeOrder, registering the
patient from PID first when PID carries name and birth date), CA (the order withdrawn:
cancelExam, before the patient arrives) or XO (the order changed: changeOrder, the fields that
may still change given the exam's status); ADT^A04/A08 (registerPatient) and ADT^A40
(mergePatients: MRG-1's patient into PID-3's). Other order controls and message types are
refused with AR. A message the department cannot take is answered AE with an ERR segment
naming the segment, field and reason, and nothing of it is written. An accepted message is
recorded with its ACK in the transaction of its effect, so a re-sent message (same sender and
MSH-10) gets the same ACK and changes nothing. Every command run, and every one refused by the
domain, leaves an audit record (the same trail as GraphQL's: who, from where, which message).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

import hl7
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from application.authorization import authorize
from application.commands import Commands, exam_transaction
from application.orders import exam_for_placer
from domain import audit
from domain.db import Database, UnitOfWork
from domain.enums import PatientClass, Priority
from domain.errors import Conflict, DomainError, IssueCode, NotFound, ValidationFailed
from domain.lifecycle import Actor
from domain.models import Exam, InboundMessage, Patient
from domain.services import order_changes, orders, scheduling

PROTOCOL = "HL7V2"
ORDER_TYPES = {("ORM", "O01"), ("OMI", "O23")}
PATIENT_TYPES = {("ADT", "A04"), ("ADT", "A08")}
MERGE_TYPE = ("ADT", "A40")

# HL7 table 0357 (message error condition codes) as used in ERR-3.
REQUIRED_MISSING = ("101", "Required field missing")
DATA_TYPE_ERROR = ("102", "Data type error")
TABLE_VALUE_NOT_FOUND = ("103", "Table value not found")
UNSUPPORTED_MESSAGE_TYPE = ("200", "Unsupported message type")
UNSUPPORTED_EVENT = ("201", "Unsupported event code")
RECORD_LOCKED = ("206", "Application record locked")
APPLICATION_ERROR = ("207", "Application internal error")

PRIORITIES = {"S": Priority.STAT, "A": Priority.URGENT, "R": Priority.ROUTINE}
CLASSES = {"E": PatientClass.ED, "I": PatientClass.INPATIENT, "O": PatientClass.OUTPATIENT}

# Where each of the domain's inputs comes from: (segment, field, component).
LOCATION: dict[str, tuple[str, int, int]] = {
    "order_source": ("ORC", 2, 2),
    "placer_order_number": ("ORC", 2, 1),
    "patient_mrn": ("PID", 3, 1),
    "mrn": ("PID", 3, 1),
    "family_name": ("PID", 5, 1),
    "given_name": ("PID", 5, 2),
    "birth_date": ("PID", 7, 1),
    "sex": ("PID", 8, 1),
    "phone": ("PID", 13, 1),
    "patient_class": ("PV1", 2, 1),
    "priority": ("TQ1", 9, 1),
    "referrer_code": ("ORC", 12, 1),
    "procedure_code": ("OBR", 4, 1),
    "site_code": ("MSH", 6, 1),
    "indication": ("OBR", 31, 2),
    "icd10_code": ("DG1", 3, 1),
    "reason": ("ORC", 16, 2),
    "exam_id": ("ORC", 2, 1),
    "prior_mrn": ("MRG", 1, 1),
}


@dataclass(frozen=True)
class Refusal(Exception):
    """Why a message is not taken: where (segment, field, component), the 0357 code, the text."""

    location: tuple[str, int, int] | None
    condition: tuple[str, str]
    text: str
    ack_code: str = "AE"


class Received:
    """A parsed message with the first segment of each kind found once (python-hl7's
    `Message.extract_field` searches the segments again for every field read)."""

    def __init__(self, message: hl7.Message) -> None:
        self.message = message
        self.first: dict[str, hl7.Segment] = {}
        for segment in message:
            self.first.setdefault(str(segment[0]), segment)

    def field(self, segment: str, number: int, component: int = 1) -> str:
        """One component of the first such segment, '' when the segment or field is absent."""
        found = self.first.get(segment)
        if found is None:
            return ""
        try:
            return str(found.extract_field(1, number, 1, component)).strip()
        except IndexError:
            return ""


def field(message: Received, segment: str, number: int, component: int = 1) -> str:
    """One component of the first such segment, '' when the segment or field is absent."""
    return message.field(segment, number, component)


def required(message: Received, name: str) -> str:
    segment, number, component = LOCATION[name]
    value = field(message, segment, number, component)
    if not value:
        raise Refusal(LOCATION[name], REQUIRED_MISSING, f"{segment}-{number} is required")
    return value


def hl7_date(value: str, name: str) -> date:
    try:
        return datetime.strptime(value[:8], "%Y%m%d").date()
    except ValueError:
        segment, number, _ = LOCATION[name]
        raise Refusal(
            LOCATION[name], DATA_TYPE_ERROR, f"{segment}-{number} is not a date (YYYYMMDD)"
        ) from None


def priority_of(message: Received) -> Priority:
    """TQ1-9 (2.5.1), else ORC-7.6 or OBR-27.6 (2.3)."""
    found = sent_priority(message)
    if found is None:
        raise Refusal(LOCATION["priority"], REQUIRED_MISSING, "a priority is required (TQ1-9)")
    return found


def sent_priority(message: Received) -> Priority | None:
    """The priority the message sends, None when it sends none."""
    code = field(message, "TQ1", 9) or field(message, "ORC", 7, 6) or field(message, "OBR", 27, 6)
    if not code:
        return None
    if code not in PRIORITIES:
        raise Refusal(
            LOCATION["priority"],
            TABLE_VALUE_NOT_FOUND,
            f"priority {code} is not one of S (stat), A (asap), R (routine)",
        )
    return PRIORITIES[code]


def patient_class_of(message: Received) -> PatientClass:
    code = field(message, "PV1", 2) or "O"
    if code not in CLASSES:
        raise Refusal(
            LOCATION["patient_class"],
            TABLE_VALUE_NOT_FOUND,
            f"patient class {code} is not one of E, I, O",
        )
    return CLASSES[code]


def register(message: Received) -> Callable[[UnitOfWork, Actor], object]:
    """registerPatient from PID."""
    mrn = required(message, "mrn")
    family = required(message, "family_name")
    given = required(message, "given_name")
    born = hl7_date(required(message, "birth_date"), "birth_date")
    sex = field(message, "PID", 8) or "U"
    phone = field(message, "PID", 13) or None
    return lambda uow, actor: orders.register_patient(
        uow=uow,
        actor=actor,
        mrn=mrn,
        given_name=given,
        family_name=family,
        birth_date=born,
        sex=sex,
        phone=phone,
    )


def indication_of(message: Received) -> str:
    """OBR-31's text (or code), else DG1-3's text."""
    return (
        field(message, "OBR", 31, 2) or field(message, "OBR", 31, 1) or field(message, "DG1", 3, 2)
    )


def icd10_of(message: Received) -> str:
    """DG1-3's code, else OBR-31's."""
    return field(message, "DG1", 3, 1) or field(message, "OBR", 31, 1)


def has_demographics(message: Received) -> bool:
    return bool(field(message, "PID", 5) and field(message, "PID", 7))


@dataclass(frozen=True)
class Inbound:
    """Runs inbound messages against one database as one interface's actor."""

    db: Database
    actor: Actor
    site_code: str | None = None  # when MSH-6 does not name a site of the department

    async def handle(self, parsed: hl7.Message, peer: str | None = None) -> str:
        """The ACK (its text) for a message: AA once its effect committed, AE or AR with an ERR."""
        message = Received(parsed)
        sender = "^".join(filter(None, (field(message, "MSH", 3), field(message, "MSH", 4))))
        control_id = field(message, "MSH", 10)
        kind = (field(message, "MSH", 9, 1), field(message, "MSH", 9, 2))
        trail = audit.Trail(
            actor=self.actor,
            client_address=peer,
            operation=f"HL7 {'^'.join(kind)} {control_id} from {sender}",
            action=audit.AuditAction.UPDATE,
        )
        token = audit.current_trail.set(trail)
        try:
            return await self._handle(message, sender, control_id, kind)
        finally:
            audit.current_trail.reset(token)
            if trail.needs_record():  # a command the domain refused: its record says why
                await self.db.write_audit(trail)

    async def _handle(
        self, message: Received, sender: str, control_id: str, kind: tuple[str, str]
    ) -> str:
        try:
            if not control_id:
                raise Refusal(("MSH", 10, 1), REQUIRED_MISSING, "MSH-10 is required")
            registers = has_demographics(message)
            if kind in ORDER_TYPES:
                command, work = self._order(message)
                registers = registers and command == "placeOrder"
            elif kind in PATIENT_TYPES:
                command, work, registers = "registerPatient", self._patient(message), False
            elif kind == MERGE_TYPE:
                command, work = "mergePatients", self._merge(message)
            elif kind[0] in {"ORM", "OMI", "ADT"}:
                raise Refusal(("MSH", 9, 2), UNSUPPORTED_EVENT, f"{'^'.join(kind)}", "AR")
            else:
                raise Refusal(("MSH", 9, 1), UNSUPPORTED_MESSAGE_TYPE, f"{kind[0]}", "AR")
            text = acknowledgement(message, "AA")

            def transaction(uow: UnitOfWork) -> str:
                previous = uow.session.scalar(
                    sa.select(col(InboundMessage.acknowledgement)).where(
                        col(InboundMessage.protocol) == PROTOCOL,
                        col(InboundMessage.sender) == sender,
                        col(InboundMessage.control_id) == control_id,
                    )
                )
                if previous is not None:  # a re-send: the same answer, nothing again
                    return str(previous)
                work(uow)
                # Inserted with the command's other appended rows (never read back by it): a
                # concurrent copy of this message then fails here, on the unique key.
                uow.append(
                    InboundMessage,
                    {
                        "protocol": PROTOCOL,
                        "sender": sender[:128],
                        "control_id": control_id[:64],
                        "message_type": "^".join(kind)[:16],
                        "received_at": uow.now,
                        "acknowledgement": text,
                    },
                )
                return text

            if registers:
                authorize(self.actor, "registerPatient")  # PID registers the patient too
            try:
                answer = await Commands(self.db, self.actor).run(command, transaction)
            except IntegrityError:  # the same message, sent twice at once: the other won
                answer = await self.db.run(transaction)
            return answer
        except Refusal as refusal:
            return acknowledgement(message, refusal.ack_code, refusal)
        except DomainError as refused:
            audit.note_failure(f"{type(refused).__name__}: {refused.message}"[:300])
            return acknowledgement(message, "AE", refusal_of(refused))

    def _patient(self, message: Received) -> Callable[[UnitOfWork], object]:
        registration = register(message)
        return lambda uow: registration(uow, self.actor)

    def _order(self, message: Received) -> tuple[str, Callable[[UnitOfWork], object]]:
        """(the command, its work) for ORC-1: NW places the order, CA withdraws it."""
        control = field(message, "ORC", 1)
        source = field(message, "ORC", 2, 2) or field(message, "MSH", 3)
        if control == "NW":
            placer = required(message, "placer_order_number")
            return "placeOrder", self._new_order(message, source, placer)
        if control == "CA":
            placer = required(message, "placer_order_number")
            return "cancelExam", self._cancel(message, source, placer)
        if control == "XO":
            placer = required(message, "placer_order_number")
            return "changeOrder", self._change(message, source, placer)
        raise Refusal(
            ("ORC", 1, 1),
            TABLE_VALUE_NOT_FOUND,
            f"order control {control or '(empty)'} is not accepted: NW (new), CA (cancel) "
            "or XO (change)",
            "AR",
        )

    def _change(
        self, message: Received, source: str, placer: str
    ) -> Callable[[UnitOfWork], object]:
        """The fields an XO sends, applied where the exam's status still allows."""
        change = order_changes.OrderChange(
            priority=sent_priority(message),
            patient_class=patient_class_of(message) if field(message, "PV1", 2) else None,
            referrer_code=field(message, "ORC", 12) or field(message, "OBR", 16) or None,
            procedure_code=field(message, "OBR", 4) or None,
            indication=indication_of(message) or None,
            icd10_code=icd10_of(message) or None,
        )
        mrn = field(message, "PID", 3)

        def work(uow: UnitOfWork, actor: Actor, exam_id: int) -> object:
            exam_patient = uow.session.get(Patient, uow.session.get_one(Exam, exam_id).patient_id)
            if mrn and exam_patient is not None and exam_patient.mrn != mrn:
                raise Refusal(
                    LOCATION["patient_mrn"],
                    APPLICATION_ERROR,
                    f"the order is for another patient ({exam_patient.mrn}): a change of "
                    "patient is a merge (ADT^A40), or a cancel and a new order",
                )
            return order_changes.change_order(uow=uow, actor=actor, exam_id=exam_id, change=change)

        def change_it(uow: UnitOfWork) -> object:
            exam_id = exam_for_placer(uow, self.actor, source, placer)
            return exam_transaction(self.actor, exam_id, work, sent=placer)(uow)

        return change_it

    def _merge(self, message: Received) -> Callable[[UnitOfWork], object]:
        """ADT^A40: MRG-1's patient merged into PID-3's (registered or updated from PID first,
        when PID carries the demographics)."""
        surviving = required(message, "mrn")
        prior = required(message, "prior_mrn")
        registration = register(message) if has_demographics(message) else None

        def merge(uow: UnitOfWork) -> object:
            if registration is not None:
                registration(uow, self.actor)
            return order_changes.merge_patients(
                uow=uow, actor=self.actor, surviving_mrn=surviving, prior_mrn=prior
            )

        return merge

    def _cancel(
        self, message: Received, source: str, placer: str
    ) -> Callable[[UnitOfWork], object]:
        reason = field(message, "ORC", 16, 2) or field(message, "ORC", 16, 1)
        reason = reason or f"order withdrawn by {source}"

        def cancel(uow: UnitOfWork) -> object:
            exam_id = exam_for_placer(uow, self.actor, source, placer)
            withdraw = exam_transaction(
                self.actor,
                exam_id,
                lambda uow, actor, pk: scheduling.cancel_exam(
                    uow=uow, actor=actor, exam_id=pk, reason=reason
                ),
                sent=placer,
            )
            return withdraw(uow)

        return cancel

    def _new_order(
        self, message: Received, source: str, placer: str
    ) -> Callable[[UnitOfWork], object]:
        mrn = required(message, "patient_mrn")
        procedure = required(message, "procedure_code")
        priority = priority_of(message)
        klass = patient_class_of(message)
        site = field(message, "MSH", 6) or self.site_code
        if not site:
            raise Refusal(LOCATION["site_code"], REQUIRED_MISSING, "MSH-6 must name the site")
        referrer = field(message, "ORC", 12) or field(message, "OBR", 16) or None
        indication = indication_of(message)
        icd10 = icd10_of(message)
        registration = register(message) if has_demographics(message) else None

        def place(uow: UnitOfWork) -> object:
            if registration is not None:
                registration(uow, self.actor)
            return orders.place_order(
                uow=uow,
                actor=self.actor,
                order_source=source,
                placer_order_number=placer,
                patient_mrn=mrn,
                referrer_code=referrer,
                procedure_code=procedure,
                site_code=site,
                priority=priority,
                patient_class=klass,
                indication=indication,
                icd10_code=icd10,
            )

        return place


def refusal_of(error: DomainError) -> Refusal:
    """Where and why, in HL7's terms, the domain refused a message's command."""
    if isinstance(error, ValidationFailed):
        issue = error.issues[0]
        condition = APPLICATION_ERROR if issue.code == IssueCode.NOT_EDITABLE else DATA_TYPE_ERROR
        text = "; ".join(f"{i.field}: {i.message}" for i in error.issues)
        return Refusal(LOCATION.get(issue.field), condition, text)
    if isinstance(error, NotFound):
        return Refusal(LOCATION.get(error.field or ""), TABLE_VALUE_NOT_FOUND, error.message)
    if isinstance(error, Conflict):  # another change to the exam committed first
        return Refusal(LOCATION["exam_id"], RECORD_LOCKED, f"{error.message}; send it again")
    return Refusal(LOCATION.get(error.field or ""), APPLICATION_ERROR, error.message)


def acknowledgement(message: Received, code: str, refusal: Refusal | None = None) -> str:
    """ACK with MSA (and MSA-3 text and an ERR segment when refused)."""
    ack = message.message.create_ack(ack_code=code, application="RADFLOW")
    if refusal is None:
        return str(ack)
    text = message.message.escape(refusal.text[:200])
    lines = [line for line in str(ack).split("\r") if line]
    lines = [line + f"|{text}" if line.startswith("MSA|") else line for line in lines]
    where = ""
    if refusal.location is not None:
        segment, number, component = refusal.location
        where = f"{segment}^1^{number}^1^{component}"
    code, name = refusal.condition
    lines.append(f"ERR||{where}|{code}^{name}^HL70357|E||||{text}")
    return "\r".join(lines)
