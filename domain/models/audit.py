"""The audit trail: who read or changed which patient's data, when, from where, and how it went.

The fields follow an IHE ATNA / DICOM audit message: event type and action, outcome, time,
the active participant (user id, role, network address) and the participant objects (patient
MRNs, exam ids), plus the GraphQL operation that did it. Rows are append-only: no API changes
them, and on PostgreSQL a trigger refuses UPDATE and DELETE (see the migration).
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field

from domain.models._columns import core_table, document, text, when
from domain.models._row import Row


class AuditEvent(Row, table=True):
    """One audited access: a read, search, create, update, delete or execution."""

    __tablename__ = "audit_events"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: int | None = Field(default=None, primary_key=True)
    recorded_at: datetime = when(index=True)
    event_type: str = text(32)  # a domain.audit.AuditEventType
    action: str = text(1)  # C R U D E
    outcome: str = text(8)  # SUCCESS or FAILURE
    reason: str | None = text(500, nullable=True)
    user_id: str = text(64, index=True)
    role: str = text(16)
    client_address: str | None = text(64, nullable=True)
    operation: str = text(200)
    patient_mrns: list[str] = document()
    exam_ids: list[int] = document()


AUDIT_EVENTS = core_table(AuditEvent)

# Append-only in the database itself, whoever connects: UPDATE and DELETE are refused.
APPEND_ONLY_POSTGRESQL = (
    """CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit events are append-only (% refused)', TG_OP;
END;
$$ LANGUAGE plpgsql""",
    """CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()""",
)
APPEND_ONLY_SQLITE = tuple(
    f"""CREATE TRIGGER audit_events_no_{verb.lower()} BEFORE {verb} ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit events are append-only ({verb} refused)'); END"""
    for verb in ("UPDATE", "DELETE")
)

for _statement in APPEND_ONLY_POSTGRESQL:
    sa.event.listen(
        AUDIT_EVENTS,
        "after_create",
        sa.DDL(_statement.replace("%", "%%")).execute_if(dialect="postgresql"),
    )
for _statement in APPEND_ONLY_SQLITE:
    sa.event.listen(AUDIT_EVENTS, "after_create", sa.DDL(_statement).execute_if(dialect="sqlite"))
