"""Who may call what: the role matrix of every query, mutation and subscription, in one place.

`MATRIX` maps each root field to the roles that may use it; `install` puts one permission
class on every root field of the schema from it, and refuses to build a schema with a root
field the matrix does not name (a new field cannot ship unguarded). What a permitted caller
then sees is bounded object by object (`domain.access`), and the lifecycle table still checks
each step's roles in the domain: the matrix is the outer wall, not the only one. Its mutation
rows are the application's command matrix (`application.authorization`), which the commands
check again whatever transport runs them. docs/security.md prints this matrix; a test calls
every cell.
"""

from __future__ import annotations

from typing import Any

from graphql import GraphQLError
from strawberry.permission import BasePermission, PermissionExtension
from strawberry.types.base import get_object_definition

from api.audit import record_denial
from application.authorization import (
    ADMIN,
    COMMAND_ROLES,
    INTEGRATION,
    INTERFACE_ONLY,
    MANAGERS,
    PATIENT,
    PEOPLE,
    RADIOLOGIST,
    SCHEDULER,
    STAFF,
    SUPERVISOR,
    roles,
)
from domain.enums import Role

MATRIX: dict[str, frozenset[Role]] = {
    # -- queries: lists and lookups are further bounded to the caller's own exams ------------
    "Query.node": PEOPLE,
    "Query.exam": PEOPLE,
    "Query.exams": PEOPLE,
    "Query.patient": PEOPLE,
    "Query.followUps": PEOPLE,
    "Query.openSlots": PEOPLE - {INTEGRATION},
    "Query.procedures": PEOPLE,
    "Query.sites": PEOPLE,
    "Query.modalityResources": PEOPLE,
    "Query.referrers": PEOPLE - {PATIENT},
    "Query.radiologists": STAFF,
    "Query.worklist": roles(RADIOLOGIST, SUPERVISOR, ADMIN),
    "Query.balancerStatus": roles(RADIOLOGIST, SUPERVISOR, ADMIN),
    "Query.metrics": MANAGERS,
    "Query.activeRuleSet": MANAGERS,
    "Query.ruleSet": MANAGERS,
    "Query.ruleSets": MANAGERS,
    "Query.ruleSetDiff": MANAGERS,
    "Query.ruleVocabulary": MANAGERS,
    "Query.auditEvents": roles(ADMIN),
    "Query.unmatchedStudies": MANAGERS,
    "Query.failedStudies": MANAGERS,
    "Query.expiredStudies": MANAGERS,
    "Query.retentionRules": MANAGERS,
    "Query.legalHolds": MANAGERS,
    "Query.studyPurges": MANAGERS,
    "Query.operationsStatus": MANAGERS,
    # -- mutations: the application's commands, one row each (application.authorization) ---
    **{
        f"Mutation.{name}": allowed
        for name, allowed in COMMAND_ROLES.items()
        if name not in INTERFACE_ONLY
    },
    # -- subscriptions: whole-department streams for roles that see every exam --------------
    "Subscription.examStatusChanged": roles(SCHEDULER, SUPERVISOR, INTEGRATION, ADMIN),
    "Subscription.worklistChanged": roles(RADIOLOGIST, SUPERVISOR, ADMIN),
    "Subscription.criticalResultRaised": roles(SUPERVISOR, INTEGRATION, ADMIN),
    "Subscription.balancerRan": MANAGERS,
    "Subscription.ruleSetActivated": roles(SUPERVISOR, INTEGRATION, ADMIN),
}


class Allowed(BasePermission):
    """The role matrix, checked before any root field resolves; a refusal is audited."""

    message = "not permitted"
    error_extensions = {"code": "FORBIDDEN"}

    def has_permission(self, source: Any, info: Any, **kwargs: Any) -> bool:
        raw = info._raw_info
        key = f"{raw.parent_type.name}.{raw.field_name}"
        actor = info.context.actor
        if actor.role in MATRIX[key]:
            return True
        message = f"role {actor.role.value} may not use {raw.field_name}"
        record_denial(key, message)
        # Raised here rather than through `message`: one instance serves every request.
        raise GraphQLError(message, extensions={"code": "FORBIDDEN"})


def install(*root_types: Any) -> None:
    """Guard every field of the root types with the matrix (once; a missing entry fails)."""
    for root in root_types:
        definition = get_object_definition(root, strict=True)
        for field in definition.fields:
            key = f"{definition.name}.{field.graphql_name or _camel(field.python_name)}"
            if key not in MATRIX:
                raise LookupError(f"{key} has no entry in api.permissions.MATRIX")
            if not any(isinstance(e, PermissionExtension) for e in field.extensions):
                field.extensions.append(
                    PermissionExtension(permissions=[Allowed()], use_directives=False)
                )


def _camel(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(word.capitalize() for word in rest)
