"""Stage 1: the order, and the people it names."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import date

from domain import events as ev
from domain.access import scope_of
from domain.enums import ExamStatus, PatientClass, Priority, Role
from domain.errors import FieldIssue, IssueCode, NotFound, NotPermitted, ValidationFailed
from domain.lifecycle import Actor
from domain.models import (
    Exam,
    Patient,
    Procedure,
    Site,
)
from domain.repositories import UnitOfWork
from domain.services._common import Checks, find_by, require_role
from domain.types import pk

ICD10 = re.compile(r"^[A-TV-Z][0-9][0-9AB](\.[0-9A-Z]{1,4})?$")
# Crockford's base32: no I, L, O or U, so an accession read over the phone is unambiguous.
_ACCESSION_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_accession_number() -> str:
    """A fresh accession number: "RF" and 12 random base32 characters (60 bits)."""
    bits = secrets.randbits(60)  # one draw, five bits a character
    return "RF" + "".join(_ACCESSION_ALPHABET[(bits >> (5 * k)) & 31] for k in range(12))


@dataclass(frozen=True)
class PlacedOrder:
    """The exam of an order, and whether this call created it or found a re-sent order."""

    exam: Exam
    created: bool


# Who may place an order naming another referrer (an order entered for them, or received from
# the hospital's order system); a referrer orders as themselves. docs/security.md prints it.
ORDER_ON_BEHALF = frozenset({Role.SCHEDULER, Role.INTEGRATION, Role.ADMIN})
ORDERING = ORDER_ON_BEHALF | {Role.REFERRER}


def place_order(
    *,
    uow: UnitOfWork,
    actor: Actor,
    order_source: str,
    placer_order_number: str,
    patient_mrn: str,
    referrer_code: str | None,
    procedure_code: str,
    site_code: str,
    priority: Priority,
    patient_class: PatientClass,
    indication: str,
    icd10_code: str,
) -> PlacedOrder:
    """Place an order; a re-sent order (same source and placer number, placed within the same
    scope) returns its exam, and only to a caller who may see it.

    A referrer orders as themselves (`referrer_code` defaults to them; another referrer's code
    is refused). Their placer numbers are theirs alone: a number another scope used answers
    exactly as an unused one would, so a guessed number reveals nothing.
    """
    require_role(actor, set(ORDERING), "place orders")
    if actor.role not in ORDER_ON_BEHALF:
        if referrer_code not in (None, actor.id):
            raise NotPermitted(
                f"role {actor.role.value} orders as themselves: referrerCode "
                "must be your own code or left out"
            )
        referrer_code = actor.id
    checks = Checks()
    checks.text(order_source, "order_source", max_length=64)
    checks.text(placer_order_number, "placer_order_number", max_length=64)
    checks.text(referrer_code, "referrer_code", max_length=32)
    checks.text(indication, "indication", max_length=2000)
    checks.require(
        bool(ICD10.match(icd10_code or "")),
        "icd10_code",
        IssueCode.INVALID_FORMAT,
        "must be an ICD-10 code such as R51 or S06.5",
    )
    checks.done()
    assert referrer_code is not None

    scope = placer_scope(actor)
    parties = uow.exams.order_parties(
        source=order_source,
        placer=placer_order_number,
        scope=scope,
        patient_mrn=patient_mrn,
        referrer_code=referrer_code,
    )
    existing, patient, referrer = parties.existing, parties.patient, parties.referrer
    if patient is None:
        raise NotFound("patient", patient_mrn, field="patient_mrn")
    if referrer is None:
        raise NotFound("referrer", referrer_code, field="referrer_code")
    procedure = find_by(
        uow, Procedure, "code", procedure_code, entity="procedure", field="procedure_code"
    )
    site = find_by(uow, Site, "code", site_code, entity="site", field="site_code")
    if existing is not None:
        return _resent(uow, actor, existing, patient, procedure)

    exam = Exam(
        accession_number=new_accession_number(),
        order_source=order_source,
        placer_order_number=placer_order_number,
        placer_scope=scope,
        patient_id=pk(patient),
        referrer_id=pk(referrer),
        procedure_id=pk(procedure),
        site_id=pk(site),
        priority=priority,
        patient_class=patient_class,
        indication=indication.strip(),
        icd10_code=icd10_code,
        status=ExamStatus.ORDERED,
        ordered_at=uow.now,
        status_changed_at=uow.now,
    )
    if not uow.exams.add_order(exam):
        # A concurrent call with the same placer order won the race: answer with its exam.
        raced = _existing_order(uow, order_source, placer_order_number, scope)
        assert raced is not None
        return _resent(uow, actor, raced, patient, procedure)
    assert exam.id is not None
    _copy_prep_checklist(uow, exam, procedure)
    uow.emit(
        ev.ExamOrdered(
            at=uow.now,
            actor=actor.id,
            role=actor.role,
            exam_id=exam.id,
            accession_number=exam.accession_number,
            site_id=exam.site_id,
            from_status=None,
            to_status=ExamStatus.ORDERED,
        )
    )
    uow.exam_id = exam.id
    # The outbox finds the exam's modality without a statement (the procedure is the
    # catalogue's kept copy, which no session holds).
    uow.name_modality(pk(procedure), procedure.modality)
    uow.name_patient(pk(patient), patient.mrn)  # and the audit record its patient
    return PlacedOrder(exam=exam, created=True)


def placer_scope(actor: Actor) -> str:
    """The scope an actor's placer numbers live in: the department's for callers who see every
    exam, the caller's own otherwise (a referrer: their orders)."""
    scope = scope_of(actor)
    return "" if scope.unbounded else f"{scope.kind.value}:{scope.subject}"


def _existing_order(uow: UnitOfWork, source: str, placer: str, scope: str) -> Exam | None:
    return uow.exams.by_placer_order(source, placer, scope)


def _resent(
    uow: UnitOfWork, actor: Actor, existing: Exam, patient: Patient, procedure: Procedure
) -> PlacedOrder:
    # Belt and braces: the scope already limits the lookup to the caller's own orders, and an
    # exam the caller may not see is never described to them, not even by its accession.
    visible = bool(uow.exams.visible_to(actor, [pk(existing)]))
    if not visible or existing.patient_id != patient.id or existing.procedure_id != procedure.id:
        named = f" for exam {existing.accession_number}" if visible else ""
        raise ValidationFailed(
            [
                FieldIssue(
                    field="placer_order_number",
                    code=IssueCode.PLACER_ORDER_REUSED,
                    message=f"placer order number already used{named} with another patient or "
                    "procedure",
                )
            ]
        )
    uow.name_exam(pk(existing), existing.patient_id)
    return PlacedOrder(exam=existing, created=False)


def _copy_prep_checklist(uow: UnitOfWork, exam: Exam, procedure: Procedure) -> None:
    if procedure.prep_protocol_id is None:
        return
    uow.prep.copy_protocol(pk(exam), procedure.prep_protocol_id)


def register_patient(
    *,
    uow: UnitOfWork,
    actor: Actor,
    mrn: str,
    given_name: str,
    family_name: str,
    birth_date: date,
    sex: str,
    phone: str | None = None,
    email: str | None = None,
) -> Patient:
    """Register a patient, or update the demographics of the patient with this MRN."""
    require_role(actor, {Role.SCHEDULER, Role.INTEGRATION, Role.ADMIN}, "register patients")
    checks = Checks()
    checks.text(mrn, "mrn", max_length=32)
    checks.require(
        bool(re.fullmatch(r"[A-Za-z0-9-]{1,32}", mrn or "")),
        "mrn",
        IssueCode.INVALID_FORMAT,
        "must be letters, digits and dashes",
    )
    checks.text(given_name, "given_name", max_length=80)
    checks.text(family_name, "family_name", max_length=80)
    checks.require(
        sex in {"F", "M", "O", "U"}, "sex", IssueCode.INVALID_VALUE, "must be F, M, O or U"
    )
    checks.require(
        birth_date <= uow.now.date(), "birth_date", IssueCode.IN_FUTURE, "must not be in the future"
    )
    checks.text(phone, "phone", max_length=32, required=False)
    checks.text(email, "email", max_length=254, required=False)
    if email:
        checks.require("@" in email, "email", IssueCode.INVALID_FORMAT, "must be an email address")
    checks.done()
    patient = uow.department.find(Patient, "mrn", mrn)
    if patient is None:
        patient = Patient(mrn=mrn, given_name="", family_name="", birth_date=birth_date, sex=sex)
        uow.add(patient)
    patient.given_name, patient.family_name = given_name.strip(), family_name.strip()
    patient.birth_date, patient.sex, patient.phone, patient.email = birth_date, sex, phone, email
    uow.flush()
    return patient
