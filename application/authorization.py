"""Who may run which command: the role matrix of every application command, in one place.

A command is named as the API names it (`placeOrder`, `openRead`, ...) so that the GraphQL
matrix (`api.permissions.MATRIX`, which adds the queries and subscriptions) and any other
transport (an HL7 listener, a DICOM SCP, a scheduler) check the same row. The lifecycle table
still checks each step's roles in the domain; what an actor may see of an exam is checked by
`application.commands` with `domain.access`.
"""

from __future__ import annotations

from types import MappingProxyType

from domain.enums import Role
from domain.errors import NotPermitted
from domain.lifecycle import Actor

ADMIN, SUPERVISOR, SCHEDULER = Role.ADMIN, Role.SUPERVISOR, Role.SCHEDULER
REFERRER, PATIENT, TECHNOLOGIST = Role.REFERRER, Role.PATIENT, Role.TECHNOLOGIST
RADIOLOGIST, INTEGRATION = Role.RADIOLOGIST, Role.INTEGRATION

PEOPLE = frozenset(Role) - {Role.SYSTEM, Role.ANONYMOUS}  # everyone with a token
STAFF = frozenset({SCHEDULER, TECHNOLOGIST, RADIOLOGIST, SUPERVISOR, ADMIN, INTEGRATION})
MANAGERS = frozenset({SUPERVISOR, ADMIN})


def roles(*names: Role) -> frozenset[Role]:
    return frozenset(names)


COMMAND_ROLES: MappingProxyType[str, frozenset[Role]] = MappingProxyType(
    {
        # -- orders and scheduling -----------------------------------------------------------
        "placeOrder": roles(REFERRER, SCHEDULER, INTEGRATION, ADMIN),
        "registerPatient": roles(SCHEDULER, INTEGRATION, ADMIN),
        "changeOrder": roles(SCHEDULER, INTEGRATION, ADMIN),
        "mergePatients": roles(INTEGRATION, ADMIN),
        "cancelExam": roles(
            REFERRER, PATIENT, SCHEDULER, TECHNOLOGIST, SUPERVISOR, INTEGRATION, ADMIN
        ),
        "scheduleExam": roles(PATIENT, SCHEDULER, ADMIN),
        "rescheduleExam": roles(PATIENT, SCHEDULER, ADMIN),
        "confirmAppointment": roles(PATIENT, SCHEDULER, ADMIN),
        "markNoShow": roles(SCHEDULER, ADMIN),
        # -- the visit and acquisition -------------------------------------------------------
        "checkIn": roles(SCHEDULER, TECHNOLOGIST, ADMIN),
        "completePrepItem": roles(SCHEDULER, TECHNOLOGIST, ADMIN),
        "startAcquisition": roles(TECHNOLOGIST, ADMIN),
        "completeAcquisition": roles(TECHNOLOGIST, ADMIN),
        "requestRepeat": roles(TECHNOLOGIST, RADIOLOGIST, ADMIN),
        "validateMetadata": roles(TECHNOLOGIST, INTEGRATION, ADMIN),
        "correctMetadata": roles(TECHNOLOGIST, INTEGRATION, ADMIN),
        "registerStorage": roles(TECHNOLOGIST, INTEGRATION, ADMIN),
        "reconcileStudy": MANAGERS,
        "setRetentionRule": MANAGERS,
        "withdrawRetentionRule": MANAGERS,
        "placeLegalHold": MANAGERS,
        "releaseLegalHold": MANAGERS,
        "purgeExpiredStudies": MANAGERS,
        # -- reading and results -------------------------------------------------------------
        "openRead": roles(RADIOLOGIST),
        "releaseRead": roles(RADIOLOGIST, SUPERVISOR, ADMIN),
        "saveReportDraft": roles(RADIOLOGIST),
        "signPreliminary": roles(RADIOLOGIST),
        "signFinal": roles(RADIOLOGIST),
        "addAddendum": roles(RADIOLOGIST),
        "notifyResult": roles(RADIOLOGIST, INTEGRATION, ADMIN),
        "acknowledgeResult": roles(REFERRER, RADIOLOGIST, SUPERVISOR, INTEGRATION, ADMIN),
        "closeExam": roles(SUPERVISOR, INTEGRATION, ADMIN),
        "recordFollowUp": roles(RADIOLOGIST, REFERRER, SUPERVISOR, ADMIN),
        "completeFollowUp": roles(RADIOLOGIST, REFERRER, SCHEDULER, SUPERVISOR, ADMIN),
        "submitSurvey": roles(REFERRER, PATIENT, ADMIN),
        # -- worklists and the balancer ------------------------------------------------------
        "assignRead": MANAGERS,
        "pinAssignment": MANAGERS,
        "unpinAssignment": MANAGERS,
        "rebalanceNow": MANAGERS,
        "startShift": roles(RADIOLOGIST, SUPERVISOR, ADMIN),
        "endShift": roles(RADIOLOGIST, SUPERVISOR, ADMIN),
        "setRadiologistStatus": roles(RADIOLOGIST, SUPERVISOR, ADMIN),
        # -- rules -----------------------------------------------------------------------------
        "saveRuleSet": MANAGERS,
        "activateRuleSet": MANAGERS,
        "previewRuleSet": MANAGERS,
        "simulateRuleSet": MANAGERS,
        "postAiTriage": roles(INTEGRATION, ADMIN),
        # -- operations ------------------------------------------------------------------------
        "retryNotification": MANAGERS,
    }
)


# Commands no GraphQL mutation exposes: only the interfaces run them (an order source changing
# its own order, the hospital's patient index merging two records: HL7 ORC-1 XO and ADT^A40).
INTERFACE_ONLY = frozenset({"changeOrder", "mergePatients"})


def authorize(actor: Actor, command: str) -> None:
    """Refuse a command the actor's role may not run (`NotPermitted`, code FORBIDDEN).

    An unknown command name is a programming error (`KeyError`), never a silent pass.
    """
    if actor.role not in COMMAND_ROLES[command]:
        raise NotPermitted(f"role {actor.role.value} may not use {command}")
