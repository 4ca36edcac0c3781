"""Auditing every GraphQL operation that touches patient data (see domain/audit.py).

`AuditOperations` opens a trail around each operation's execution. Resolvers and object
builders note the exams and patients they produce; a command writes its record in its own
transaction; anything else that owes a record (a read of patient data, a refusal, a failed
command, a use of the audit log) writes it here, before the response leaves. If that write
fails the response fails too: no patient data goes out unaudited.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime

import strawberry
from strawberry.extensions import SchemaExtension
from strawberry.types.execution import ExecutionContext

from api.context import Info
from api.enums import Role
from domain import audit
from domain.errors import FieldIssue, IssueCode, ValidationFailed
from domain.models import AuditEvent as AuditRow
from domain.queries import MAX_PAGE

_ACTIONS = {
    "place": audit.AuditAction.CREATE,
    "register": audit.AuditAction.CREATE,
    "cancel": audit.AuditAction.DELETE,
    "purge": audit.AuditAction.DELETE,
}
_EXECUTE = {"previewRuleSet", "simulateRuleSet", "rebalanceNow"}

# strawberry.enum marks the domain's class in place (see api.enums)
AuditEventType = audit.AuditEventType
strawberry.enum(AuditEventType, description="What kind of access an audit record is about.")
AuditAction = audit.AuditAction
strawberry.enum(AuditAction, description="What the audited operation did.")
AuditOutcome = audit.AuditOutcome
strawberry.enum(AuditOutcome, description="Whether it succeeded.")


def _action(kind: str, roots: list[str]) -> audit.AuditAction:
    if kind != "mutation":
        return audit.AuditAction.READ
    first = roots[0] if roots else ""
    if first in _EXECUTE:
        return audit.AuditAction.EXECUTE
    for prefix, action in _ACTIONS.items():
        if first.startswith(prefix):
            return action
    return audit.AuditAction.UPDATE


class AuditOperations(SchemaExtension):
    """A trail per operation; its record written in the command's transaction or at the end."""

    async def on_execute(self) -> AsyncIterator[None]:
        ec = self.execution_context
        context = ec.context
        operation, action, is_mutation = _described(ec)
        client = context.request.client.host if context.request and context.request.client else None
        trail = audit.Trail(
            actor=context.actor,
            client_address=client,
            operation=operation,
            action=action,
            always=is_mutation,
        )
        token = audit.current_trail.set(trail)
        try:
            yield
        finally:
            audit.current_trail.reset(token)
        if ec.result is not None and ec.result.errors and not trail.failures:
            trail.failures.extend(str(e.message) for e in ec.result.errors[:3])
        if trail.needs_record():
            await context.db.write_audit(trail)


_Description = tuple[str, audit.AuditAction, bool]
# Per parsed document (the parser cache hands back the same one for the same text) and
# operation name: what its records say it was. An entry keeps its document alive, so an id is
# never reused while it is kept.
_DESCRIPTIONS: dict[tuple[int, str | None], tuple[object, _Description]] = {}
MAX_DESCRIPTIONS = 512


def _described(ec: ExecutionContext) -> _Description:
    """The operation's record text, its audit action, and whether it is a mutation."""
    document, name = ec.graphql_document, ec.operation_name
    key = (id(document), name)
    kept = _DESCRIPTIONS.get(key)
    if kept is not None and kept[0] is document:
        return kept[1]
    roots = _root_fields(ec)
    kind = ec.operation_type.value if ec.operation_type else "query"
    label = name or ",".join(roots) or "anonymous operation"
    described = (f"{kind} {label}"[:200], _action(kind, roots), kind == "mutation")
    if document is not None:
        if len(_DESCRIPTIONS) >= MAX_DESCRIPTIONS:
            _DESCRIPTIONS.clear()
        _DESCRIPTIONS[key] = (document, described)
    return described


def _root_fields(ec: ExecutionContext) -> list[str]:
    names: list[str] = []
    if ec.graphql_document is None:
        return names
    for definition in ec.graphql_document.definitions:
        selection_set = getattr(definition, "selection_set", None)
        if getattr(definition, "operation", None) is None or selection_set is None:
            continue
        names += [s.name.value for s in selection_set.selections if hasattr(s, "name")]
    return names


def record_denial(field: str, message: str) -> None:
    """Note a refused call on the current trail (audited as a security alert)."""
    audit.note_failure(f"{field}: {message}", denied=True)


@strawberry.type(description="One audited access to patient data (IHE ATNA fields).")
class AuditEvent:
    id: int
    recorded_at: datetime
    event_type: AuditEventType
    action: AuditAction
    outcome: AuditOutcome
    reason: str | None
    user_id: str
    role: Role
    client_address: str | None
    operation: str
    patient_mrns: list[str]
    exam_ids: list[int]

    @classmethod
    def from_model(cls, row: AuditRow) -> AuditEvent:
        assert row.id is not None
        return cls(
            id=row.id,
            recorded_at=row.recorded_at,
            event_type=audit.AuditEventType(row.event_type),
            action=audit.AuditAction(row.action),
            outcome=audit.AuditOutcome(row.outcome),
            reason=row.reason,
            user_id=row.user_id,
            role=Role(row.role),
            client_address=row.client_address,
            operation=row.operation,
            patient_mrns=list(row.patient_mrns),
            exam_ids=list(row.exam_ids),
        )


@strawberry.type
class AuditQueries:
    @strawberry.field(
        description="The audit trail, newest first (admins only; reading it is itself audited)."
    )
    async def audit_events(
        self,
        info: Info,
        user_id: str | None = None,
        patient_mrn: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        first: int = 50,
        before_id: int | None = None,
    ) -> list[AuditEvent]:
        if not 0 < first <= MAX_PAGE:
            raise ValidationFailed(
                [FieldIssue("first", IssueCode.OUT_OF_RANGE, f"must be between 1 and {MAX_PAGE}")]
            )
        trail = audit.current_trail.get()
        if trail is not None:
            trail.event_type, trail.always = audit.AuditEventType.AUDIT_LOG_USED, True
        rows = await info.context.db.read(
            lambda s: audit.search(
                s,
                user_id=user_id,
                patient_mrn=patient_mrn,
                since=since,
                until=until,
                first=first,
                before_id=before_id,
            )
        )
        return [AuditEvent.from_model(r) for r in rows]
