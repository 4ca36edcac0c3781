"""The audit trail: every access to patient data leaves one record; nobody can change it."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

import domain.db as db_module
from api.relay import to_global_id
from domain.models import AuditEvent
from tests.conftest import Api
from tests.factories import count_rows, order, reference

pytestmark = pytest.mark.usefixtures("backend")

REFERRER = ("REF01", "referrer")


async def records(api: Api) -> list[AuditEvent]:
    return await api.db.read(
        lambda s: list(s.scalars(sa.select(AuditEvent).order_by(AuditEvent.id)))
    )  # type: ignore[arg-type]


@pytest.fixture
async def department(api: Api) -> Api:
    await reference(api.db)
    return api


async def test_a_read_of_patient_data_leaves_one_record_of_who_what_and_whose(
    department: Api,
) -> None:
    exam = await order(department.db)
    before = len(await records(department))
    await department.data(
        "query Timeline { exams(first: 5) { edges { node { id } } } }", actor=REFERRER
    )
    new = (await records(department))[before:]
    assert len(new) == 1
    row = new[0]
    assert (row.event_type, row.action, row.outcome) == ("PATIENT_RECORD", "R", "SUCCESS")
    assert (row.user_id, row.role, row.client_address) == ("REF01", "referrer", "127.0.0.1")
    assert row.operation == "query Timeline"
    assert row.exam_ids == [exam.id] and row.patient_mrns == ["MRN000001"]


async def test_reading_only_the_catalogue_is_not_a_patient_record_access(department: Api) -> None:
    before = await department.db.read(count_rows("audit_events"))
    await department.data("{ procedures { code } sites { code } }", actor=REFERRER)
    assert await department.db.read(count_rows("audit_events")) == before


async def test_a_refused_call_is_audited_as_a_security_alert(department: Api) -> None:
    body = await department.graphql(
        '{ metrics(from: "2026-03-01T00:00:00Z", to: "2026-04-01T00:00:00Z") { noShowRate } }',
        actor=REFERRER,
    )
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"  # type: ignore[index]
    row = (await records(department))[-1]
    assert (row.event_type, row.outcome, row.user_id) == ("SECURITY_ALERT", "FAILURE", "REF01")
    assert row.reason and "may not use metrics" in row.reason


CANCEL = """mutation($id: ID!) { cancelExam(input: {examId: $id, reason: "dup"}) {
  __typename ... on Error { code } } }"""


async def test_a_change_is_audited_in_its_own_transaction_and_a_failed_one_as_a_failure(
    department: Api,
) -> None:
    exam = await order(department.db)
    gid = to_global_id("Exam", exam.id or 0)
    before = len(await records(department))
    done = await department.data(CANCEL, {"id": gid}, actor=REFERRER)
    assert done["cancelExam"]["__typename"] == "ExamCancelled"  # type: ignore[index]
    new = (await records(department))[before:]
    assert [(r.action, r.outcome, r.exam_ids, r.patient_mrns) for r in new] == [
        ("D", "SUCCESS", [exam.id], ["MRN000001"])
    ]
    history = await department.db.read(count_rows("exam_status_history"))
    again = await department.data(CANCEL, {"id": gid}, actor=REFERRER)
    assert again["cancelExam"]["code"] == "INVALID_TRANSITION"  # type: ignore[index]
    assert await department.db.read(count_rows("exam_status_history")) == history
    failed = (await records(department))[-1]
    assert (failed.action, failed.outcome) == ("D", "FAILURE")
    assert failed.reason and "INVALID_TRANSITION" in failed.reason


async def test_a_change_whose_transaction_fails_after_its_record_is_audited_as_a_failure(
    department: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The command writes its record in its own transaction; a failure after that (here the
    # closing rows' INSERT, as a full disk would fail it) rolls the record back with the change,
    # and the operation must still leave one, as a failure.
    exam = await order(department.db)
    gid = to_global_id("Exam", exam.id or 0)
    history = await department.db.read(count_rows("exam_status_history"))
    before = len(await records(department))

    def disk_full(*args: object, **kwargs: object) -> None:
        raise sa.exc.OperationalError("INSERT INTO event_outbox", {}, Exception("disk full"))

    monkeypatch.setattr(db_module, "write_closing_rows", disk_full)
    body = await department.graphql(CANCEL, {"id": gid}, actor=REFERRER)
    assert body.get("errors"), body
    assert await department.db.read(count_rows("exam_status_history")) == history
    new = (await records(department))[before:]
    assert [(r.action, r.outcome, r.user_id) for r in new] == [("D", "FAILURE", "REF01")]
    assert new[0].exam_ids == [exam.id]


TWO_CANCELS = """mutation($a: ID!, $b: ID!) {
  first: cancelExam(input: {examId: $a, reason: "dup"}) { __typename ... on Error { code } }
  second: cancelExam(input: {examId: $b, reason: "dup"}) { __typename ... on Error { code } } }"""


async def test_each_change_of_an_operation_with_two_mutation_fields_is_audited(
    department: Api,
) -> None:
    # One operation, two commands: the first writes the operation's record in its
    # transaction, the second must write one for what it changed (not rely on the first).
    first, second = await order(department.db), await order(department.db)
    ids = {"a": to_global_id("Exam", first.id or 0), "b": to_global_id("Exam", second.id or 0)}
    before = len(await records(department))
    done = await department.data(TWO_CANCELS, ids, actor=REFERRER)
    assert [done["first"]["__typename"], done["second"]["__typename"]] == [  # type: ignore[index]
        "ExamCancelled",
        "ExamCancelled",
    ]
    new = (await records(department))[before:]
    assert [(r.action, r.outcome, r.exam_ids, r.patient_mrns) for r in new] == [
        ("D", "SUCCESS", [first.id], ["MRN000001"]),
        ("D", "SUCCESS", [second.id], ["MRN000001"]),
    ]
    # A refusal after a written record is recorded too.
    again = await department.data(TWO_CANCELS, {"a": ids["a"], "b": ids["a"]}, actor=REFERRER)
    assert again["first"]["code"] == "INVALID_TRANSITION"  # type: ignore[index]
    failed = (await records(department))[-1]
    assert (failed.action, failed.outcome) == ("D", "FAILURE")


AUDIT = """query($user: String) { auditEvents(userId: $user, first: 10) { id eventType action
  outcome userId role operation examIds patientMrns } }"""


async def test_the_audit_log_is_for_admins_and_reading_it_is_audited(department: Api) -> None:
    await order(department.db)
    await department.data("{ exams(first: 5) { edges { node { id } } } }", actor=REFERRER)
    refused = await department.graphql(AUDIT, {"user": "REF01"}, actor=("sup.ortiz", "supervisor"))
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"  # type: ignore[index]
    data = await department.data(AUDIT, {"user": "REF01"}, actor=("admin", "admin"))
    events: list[dict[str, Any]] = data["auditEvents"]  # type: ignore[assignment]
    assert events and all(e["userId"] == "REF01" for e in events)
    assert (events[0]["action"], events[0]["role"]) == ("READ", "REFERRER")
    assert events[0]["patientMrns"] == ["MRN000001"]
    last = (await records(department))[-1]
    assert (last.event_type, last.user_id, last.role) == ("AUDIT_LOG_USED", "admin", "admin")


async def test_audit_records_cannot_be_changed_or_deleted(department: Api) -> None:
    await order(department.db)
    await department.data("{ exams(first: 1) { edges { node { id } } } }", actor=REFERRER)
    await department.data("{ auditEvents(first: 1) { id } }")
    for statement in ("UPDATE audit_events SET outcome = 'SUCCESS'", "DELETE FROM audit_events"):
        with pytest.raises(DBAPIError, match="append-only"):
            await department.db.run(lambda uow, s=statement: uow.session.execute(sa.text(s)))
    assert await department.db.read(count_rows("audit_events")) >= 2
