"""Creating a ServiceRequest: the order placed exactly as placeOrder places it.

The body is checked by the model library (400 with each bad element's FHIRPath), then read
into placeOrder's inputs (422 naming the element radflow needs and did not get). Idempotent
twice over: `If-None-Exist: identifier=<order source>|<placer number>` answers an order the
caller already placed with 200 and that order, and placeOrder itself recognises a re-sent
placer number.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import sqlalchemy as sa
from fhir.resources.R4B.servicerequest import ServiceRequest
from pydantic import ValidationError

from application.commands import Commands
from application.orders import exam_for_placer
from domain.db import Database, UnitOfWork
from domain.enums import PatientClass, Priority
from domain.errors import DomainError, NotFound, NotPermitted, ValidationFailed
from domain.lifecycle import Actor
from domain.services import orders
from domain.tables import PATIENTS
from interfaces.fhir.codes import (
    CLASS_IN,
    ICD10_SYSTEMS,
    IDENTIFIER_TYPES,
    MRN_SYSTEM,
    PATIENT_CLASS_EXTENSION,
    PRIORITY_IN,
    PROCEDURE_SYSTEM,
    REFERRER_SYSTEM,
    SITE_SYSTEM,
)
from interfaces.fhir.outcome import FhirError, Issue, invalid_resource
from interfaces.fhir.search import token

SR = "ServiceRequest"
CLASS_PATH = f"{SR}.extension.where(url='{PATIENT_CLASS_EXTENSION}')"


@dataclass(frozen=True)
class Order:
    """placeOrder's inputs read from a ServiceRequest, and where each came from."""

    inputs: dict[str, Any]
    patient_id: int | None  # subject as Patient/<id> (its MRN is looked up in the transaction)
    paths: dict[str, str]


def unprocessable(path: str, message: str, code: str = "required") -> FhirError:
    return FhirError.one(422, code, message, path)


def parse_body(body: bytes) -> ServiceRequest:
    """The body as a ServiceRequest, or 400 naming each element the model refuses."""
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise FhirError.one(400, "structure", "the body is not JSON") from None
    if not isinstance(document, dict) or document.get("resourceType") != SR:
        raise FhirError.one(400, "structure", "the body must be a ServiceRequest", "resourceType")
    try:
        return ServiceRequest.model_validate(document)
    except ValidationError as error:
        raise invalid_resource(SR, error) from None


def _coded(concepts: list[Any] | None, systems: tuple[str, ...]) -> tuple[str, str | None] | None:
    """The first (code, display) of a coding in one of `systems`."""
    for concept in concepts or []:
        for coding in concept.coding or []:
            if coding.system in systems and coding.code:
                return coding.code, coding.display
    return None


def order_of(request: ServiceRequest) -> Order:
    """placeOrder's inputs, or 422 naming the element that is missing or not understood."""
    paths: dict[str, str] = {}
    if request.status != "active":
        raise unprocessable(f"{SR}.status", "an order is placed with status active", "value")
    if request.intent not in ("order", "original-order"):
        raise unprocessable(f"{SR}.intent", "radflow accepts orders: intent order", "value")
    identifiers = request.identifier or []
    placer = next(
        (
            (n, i)
            for n, i in enumerate(identifiers)
            if i.type
            and any(c.code == "PLAC" and c.system == IDENTIFIER_TYPES for c in i.type.coding or [])
        ),
        next(((n, i) for n, i in enumerate(identifiers) if i.system and i.value), None),
    )
    if placer is None or not placer[1].system or not placer[1].value:
        raise unprocessable(
            f"{SR}.identifier",
            "a placer identifier is required: system = the order source, value = its number",
        )
    n, found = placer
    paths["order_source"] = f"{SR}.identifier[{n}].system"
    paths["placer_order_number"] = f"{SR}.identifier[{n}].value"

    patient_id: int | None = None
    mrn: str | None = None
    subject = request.subject
    paths["patient_mrn"] = f"{SR}.subject"
    if subject.reference:
        kind, _, key = subject.reference.rpartition("/")
        if kind.split("/")[-1] != "Patient" or not key.isdigit():
            raise unprocessable(
                f"{SR}.subject.reference", "the subject must be Patient/<id>", "value"
            )
        patient_id = int(key)
    elif subject.identifier is not None and subject.identifier.system == MRN_SYSTEM:
        mrn = subject.identifier.value
    if patient_id is None and not mrn:
        raise unprocessable(
            f"{SR}.subject", f"the subject must be Patient/<id> or an identifier in {MRN_SYSTEM}"
        )

    procedure = _coded([request.code] if request.code else None, (PROCEDURE_SYSTEM,))
    if procedure is None:
        raise unprocessable(f"{SR}.code.coding", f"a code in {PROCEDURE_SYSTEM} (the catalogue)")
    paths["procedure_code"] = f"{SR}.code.coding"
    site = _coded(request.locationCode, (SITE_SYSTEM,))
    if site is None:
        raise unprocessable(f"{SR}.locationCode", f"the site where it is done, in {SITE_SYSTEM}")
    paths["site_code"] = f"{SR}.locationCode"
    if request.priority is None or request.priority not in PRIORITY_IN:
        code = "required" if request.priority is None else "value"
        raise unprocessable(
            f"{SR}.priority", "a priority is required: stat, asap, urgent, routine", code
        )
    priority: Priority = PRIORITY_IN[request.priority]
    paths["priority"] = f"{SR}.priority"

    referrer: str | None = None
    if request.requester is not None:
        who = request.requester.identifier
        if who is None or who.system != REFERRER_SYSTEM or not who.value:
            raise unprocessable(
                f"{SR}.requester.identifier", f"the referrer's code in {REFERRER_SYSTEM}", "value"
            )
        referrer = who.value
    paths["referrer_code"] = f"{SR}.requester"

    reasons = request.reasonCode or []
    icd10 = _coded(reasons, ICD10_SYSTEMS)
    paths["icd10_code"] = f"{SR}.reasonCode.coding"
    paths["indication"] = f"{SR}.reasonCode.text"
    indication = next((r.text for r in reasons if r.text), None) or (icd10[1] if icd10 else None)

    klass = PatientClass.OUTPATIENT
    for extension in request.extension or []:
        if extension.url == PATIENT_CLASS_EXTENSION:
            coded = extension.valueCoding.code if extension.valueCoding else None
            if coded is None or coded not in CLASS_IN:
                raise unprocessable(
                    CLASS_PATH, "the patient class is a v3 ActCode: EMER, IMP or AMB", "value"
                )
            klass = CLASS_IN[coded]
    paths["patient_class"] = CLASS_PATH
    inputs = {
        "order_source": found.system,
        "placer_order_number": found.value,
        "patient_mrn": mrn,
        "referrer_code": referrer,
        "procedure_code": procedure[0],
        "site_code": site[0],
        "priority": priority,
        "patient_class": klass,
        "indication": indication or "",
        "icd10_code": icd10[0] if icd10 else "",
    }
    return Order(inputs, patient_id, paths)


def condition_of(header: str | None) -> tuple[str, str] | None:
    """If-None-Exist's `identifier=<system>|<value>` (the only condition radflow searches)."""
    if header is None:
        return None
    pairs = parse_qsl(header.lstrip("?"), keep_blank_values=True)
    if len(pairs) != 1 or pairs[0][0] != "identifier":
        raise FhirError.one(
            400,
            "not-supported",
            "If-None-Exist supports one condition: identifier=<order source>|<placer number>",
        )
    system, value = token(pairs[0][1])
    if not system or not value:
        raise FhirError.one(400, "invalid", "If-None-Exist: identifier needs system|value")
    return system, value


async def place(
    db: Database, actor: Actor, order: Order, condition: tuple[str, str] | None
) -> tuple[int, bool]:
    """Run placeOrder (unless the condition finds the caller's order): (exam id, created)."""

    def transaction(uow: UnitOfWork) -> tuple[int, bool]:
        if condition is not None:
            try:
                return exam_for_placer(uow, actor, *condition), False
            except NotFound:
                pass
        inputs = dict(order.inputs)
        if order.patient_id is not None:
            inputs["patient_mrn"] = uow.session.scalar(
                sa.select(PATIENTS.c.mrn).where(PATIENTS.c.id == order.patient_id)
            )
            if inputs["patient_mrn"] is None:
                raise NotFound("patient", f"Patient/{order.patient_id}", field="patient_mrn")
        placed = orders.place_order(uow=uow, actor=actor, **inputs)
        assert placed.exam.id is not None
        return placed.exam.id, placed.created

    try:
        return await Commands(db, actor).run("placeOrder", transaction)
    except NotPermitted as refused:
        raise FhirError.one(403, "forbidden", refused.message) from None
    except ValidationFailed as failed:
        raise FhirError(
            422,
            [
                Issue("value", issue.message, order.paths.get(issue.field, SR))
                for issue in failed.issues
            ],
        ) from None
    except NotFound as missing:
        raise unprocessable(
            order.paths.get(missing.field or "", SR), missing.message, "not-found"
        ) from None
    except DomainError as refused:
        raise unprocessable(
            order.paths.get(refused.field or "", SR), refused.message, "business-rule"
        ) from None
