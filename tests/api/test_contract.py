"""The contract as a client meets it: codes are enums, messages speak of what was sent, a
refusal is one top-level error with a code and one log line."""

from __future__ import annotations

import logging

import pytest
from graphql import GraphQLEnumType, GraphQLNonNull, GraphQLObjectType, get_named_type

from api.relay import to_global_id
from api.schema import build_schema
from application.settings import Settings
from domain.enums import ExamStatus
from tests.conftest import Api
from tests.factories import drive, order, reference

pytestmark = pytest.mark.usefixtures("backend")

# Every field a client branches on, as type.field: each must be an enum in the schema.
BRANCHED_ON = [
    "PreconditionFailed.condition",
    "ReportIncomplete.condition",
    "FieldError.code",
    "HeaderProblem.code",
    "MetadataProblem.code",
    "MissingReportField.problem",
    "InvalidTransition.step",
    "StatusChange.step",
    "ExamStatusEvent.step",
    "Read.source",
    "AuditEvent.eventType",
    "AuditEvent.action",
    "AuditEvent.outcome",
    "AuditEvent.role",
    "LiveUpdate.type",
    "ExamStatusEvent.type",
    "Procedure.modality",
    "Exam.priority",
    "ReportTemplateField.type",
    "ReportTemplateField.codeSystem",
    "RuleError.code",
    "RuleWarning.code",
    "RuleAction.kind",
    "RuleAttribute.type",
]


@pytest.mark.parametrize("path", BRANCHED_ON)
def test_a_code_a_client_branches_on_is_an_enum(path: str) -> None:
    schema = build_schema(Settings())._schema
    type_name, field = path.split(".")
    owner = schema.get_type(type_name)
    assert owner is not None and hasattr(owner, "fields"), type_name
    assert isinstance(get_named_type(owner.fields[field].type), GraphQLEnumType), path


def test_every_error_type_has_a_code_and_message() -> None:
    schema = build_schema(Settings())._schema
    error = schema.get_type("Error")
    members = [
        t
        for t in schema.type_map.values()
        if isinstance(t, GraphQLObjectType) and error in t.interfaces
    ]
    assert {"NotFound", "ReportIncomplete", "Conflict"} <= {t.name for t in members}
    for member in members:
        assert isinstance(member.fields["code"].type, GraphQLNonNull)
        assert isinstance(get_named_type(member.fields["code"].type), GraphQLEnumType)


CANCEL = """
mutation($input: CancelExamInput!) {
  cancelExam(input: $input) { __typename ... on Error { code message field } }
}"""
COMPLETE_FOLLOW_UP = """
mutation($input: CompleteFollowUpInput!) {
  completeFollowUp(input: $input) { __typename ... on NotFound { code message field entity } }
}"""


async def test_not_found_names_the_id_the_client_sent_never_a_row_id(api: Api) -> None:
    await reference(api.db)
    sent = to_global_id("Exam", 987_654)
    answer = (await api.data(CANCEL, {"input": {"examId": sent, "reason": "r"}}))["cancelExam"]
    assert answer == {
        "__typename": "NotFound",
        "code": "NOT_FOUND",
        "field": "input.examId",
        "message": f"exam {sent} does not exist",
    }
    follow_up = to_global_id("FollowUp", 424_242)
    answer = (await api.data(COMPLETE_FOLLOW_UP, {"input": {"followUpId": follow_up}}))[
        "completeFollowUp"
    ]
    assert answer["__typename"] == "NotFound" and answer["entity"] == "follow-up"  # type: ignore[index]
    assert follow_up in answer["message"] and "424242" not in answer["message"]  # type: ignore[index]


async def test_an_exam_is_found_by_the_global_id_mutations_take_or_by_accession(api: Api) -> None:
    await reference(api.db)
    exam = await order(api.db)
    gid = to_global_id("Exam", exam.id or 0)
    query = "query($id: ID, $acc: String) { exam(id: $id, accessionNumber: $acc) { id } }"
    assert (await api.data(query, {"id": gid}))["exam"] == {"id": gid}
    assert (await api.data(query, {"acc": exam.accession_number}))["exam"] == {"id": gid}
    assert (await api.data(query, {"id": to_global_id("Patient", exam.patient_id)}))["exam"] is None
    neither = await api.graphql(query, {})
    assert neither["errors"][0]["extensions"]["code"] == "VALIDATION_FAILED"  # type: ignore[index]
    assert neither["errors"][0]["extensions"]["fields"][0]["field"] == "id"  # type: ignore[index]


async def test_a_refused_role_is_one_top_level_error_and_one_log_line(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    await reference(api.db)
    exam = await order(api.db)
    gid = to_global_id("Exam", exam.id or 0)
    with caplog.at_level(logging.INFO):
        body = await api.graphql(
            "mutation($input: MarkNoShowInput!) { markNoShow(input: $input) { __typename } }",
            {"input": {"examId": gid}},
            actor=("MRN000001", "patient"),
        )
    assert body["data"] is None
    [error] = body["errors"]  # type: ignore[misc]
    assert error["extensions"] == {"code": "FORBIDDEN"}
    assert "Traceback" not in caplog.text
    refusals = [r for r in caplog.records if "FORBIDDEN" in r.getMessage()]
    assert len(refusals) == 1 and "\n" not in refusals[0].getMessage()
    assert refusals[0].exc_info is None


async def test_the_history_names_each_entry_by_its_step(api: Api) -> None:
    await reference(api.db)
    exam = await order(api.db)
    await drive(api.db, exam, ExamStatus.SCHEDULED)
    history = (
        await api.data(
            "query($id: ID!) { exam(id: $id) { version history { step } } }",
            {"id": to_global_id("Exam", exam.id or 0)},
        )
    )["exam"]
    assert [h["step"] for h in history["history"]] == ["ORDER", "SCHEDULE"]  # type: ignore[index]
