"""Who may do what over FHIR, and the SMART-style scopes that says it (docs/interop.md).

Reading is the GraphQL queries' row (every role with a token), bounded object by object by the
role's scope in `domain.access`; creating a ServiceRequest is the placeOrder row of the
command matrix, checked again by `application.commands`; subscribing is for the roles of
GraphQL's whole-department stream (`interfaces.fhir.subscriptions.SUBSCRIBERS`). The scopes
are derived from the role: radflow's tokens carry a role, not a scope list.
"""

from __future__ import annotations

from application.authorization import COMMAND_ROLES, PEOPLE
from domain.enums import Role
from interfaces.fhir.resources import RESOURCES
from interfaces.fhir.subscriptions import SUBSCRIBERS

READERS = PEOPLE  # as GraphQL's Query.exams and Query.patient
CREATE_COMMAND = "placeOrder"  # the command a FHIR create runs (ServiceRequest)


def smart_scopes(role: Role) -> tuple[str, ...]:
    """The SMART-style scopes a role's token stands for (`write`: create, no update/delete)."""
    if role not in READERS:
        return ()
    context = "patient" if role is Role.PATIENT else "user"
    scopes = [f"{context}/{name}.read" for name in RESOURCES]
    scopes += [
        f"{context}/{name}.write"
        for name, kind in RESOURCES.items()
        if kind.create and role in COMMAND_ROLES[CREATE_COMMAND]
    ]
    if role in SUBSCRIBERS:
        scopes += [f"{context}/Subscription.read", f"{context}/Subscription.write"]
    return tuple(scopes)
