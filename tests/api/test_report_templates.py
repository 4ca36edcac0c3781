"""Report templates in the schema: a client renders the form from them, checks it, and gets
one answer when it signs too early."""

from __future__ import annotations

from typing import Any

import pytest

from api.relay import to_global_id
from domain.enums import ExamStatus
from tests.conftest import Api
from tests.factories import drive, order, reference

pytestmark = pytest.mark.usefixtures("backend")

RADIOLOGIST = ("RAD03", "radiologist")

TEMPLATE = """
fragment Form on ReportTemplate {
  code
  sections { key title fields { key label required type codeSystem maxLength
                                allowedValues { code meaning } } }
  impression { key required type }
}
query {
  procedures { code reportTemplate { ...Form } }
}"""

EXAM_TEMPLATE = """
query($id: ID!) { exam(id: $id) { version reportTemplate { code sections { key } } } }"""

DRAFT = """
mutation($input: SaveReportDraftInput!) {
  saveReportDraft(input: $input) {
    __typename
    ... on ReportDraftSaved { exam { version } report { sections { key fields { key value } } } }
    ... on Error { code message field }
    ... on ValidationFailed { errors { field code } }
  }
}"""

SIGN = """
mutation($input: ExamInput!) {
  %s(input: $input) {
    __typename
    ... on Error { code message field }
    ... on ReportIncomplete { condition missing { section field label problem } }
    ... on %s { exam { status } }
  }
}"""
PAYLOAD = {"signPreliminary": "ReportSignedPreliminary", "signFinal": "ReportSignedFinal"}


def fields_of(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f"{s['key']}.{f['key']}": f for s in template["sections"] for f in s["fields"]}


async def test_every_procedure_has_a_template_whose_coded_fields_list_their_codes(api: Api) -> None:
    await reference(api.db)
    procedures = {p["code"]: p["reportTemplate"] for p in (await api.data(TEMPLATE))["procedures"]}  # type: ignore[union-attr]
    assert all(t is not None for t in procedures.values())
    mammogram = fields_of(procedures["MGSCREEN"])
    birads = mammogram["findings.birads"]
    assert (birads["type"], birads["codeSystem"], birads["required"]) == ("CODED", "BI_RADS", True)
    assert [c["code"] for c in birads["allowedValues"]] == [
        "0",
        "1",
        "2",
        "3",
        "4",
        "4A",
        "4B",
        "4C",
        "5",
        "6",
    ]
    assert mammogram["findings.density"]["codeSystem"] == "BREAST_DENSITY"
    assert fields_of(procedures["MRLIVER"])["findings.lirads"]["codeSystem"] == "LI_RADS"
    lungrads = fields_of(procedures["CTCHEST"])["findings.lungrads"]
    assert (lungrads["codeSystem"], lungrads["required"]) == ("LUNG_RADS", False)
    assert fields_of(procedures["USBREAST"])["findings.birads"]["codeSystem"] == "BI_RADS"
    # Free text is free text: no codes, a length limit.
    findings = fields_of(procedures["USABD"])["findings.findings"]
    assert (findings["type"], findings["codeSystem"], findings["allowedValues"]) == (
        "TEXT",
        None,
        [],
    )
    assert findings["maxLength"] == 4000
    assert procedures["USABD"]["impression"] == {
        "key": "impression",
        "required": True,
        "type": "TEXT",
    }


async def _reading(api: Api) -> str:
    """An MRI liver study (LI-RADS) open on RAD03's screen; its global id."""
    await reference(api.db)
    exam = await order(api.db, procedure="MRLIVER", site="MAIN")
    await drive(api.db, exam, ExamStatus.IN_INTERPRETATION, procedure="MRLIVER")
    return to_global_id("Exam", exam.id or 0)


async def _draft(
    api: Api, gid: str, sections: dict[str, dict[str, str]], impression: str = "", **extra: Any
) -> dict[str, Any]:
    data = await api.data(
        DRAFT,
        {
            "input": {
                "examId": gid,
                "impression": impression,
                **extra,
                "sections": [
                    {"key": s, "fields": [{"key": k, "value": v} for k, v in f.items()]}
                    for s, f in sections.items()
                ],
            }
        },
        actor=RADIOLOGIST,
    )
    return data["saveReportDraft"]  # type: ignore[return-value]


async def _sign(api: Api, gid: str, name: str = "signFinal") -> dict[str, Any]:
    data = await api.data(
        SIGN % (name, PAYLOAD[name]), {"input": {"examId": gid}}, actor=RADIOLOGIST
    )
    return data[name]  # type: ignore[return-value]


async def test_the_exam_names_its_template_and_takes_the_global_id_the_mutations_take(
    api: Api,
) -> None:
    gid = await _reading(api)
    exam = (await api.data(EXAM_TEMPLATE, {"id": gid}))["exam"]
    assert exam["reportTemplate"]["code"] == "MR_LIVER"  # type: ignore[index]


async def test_signing_without_a_draft_lists_every_required_field(api: Api) -> None:
    gid = await _reading(api)
    for name in ("signPreliminary", "signFinal"):
        answer = await _sign(api, gid, name)
        assert answer["__typename"] == "ReportIncomplete"
        assert (answer["code"], answer["condition"]) == ("PRECONDITION_FAILED", "REPORT_INCOMPLETE")
        assert {(m["section"], m["field"], m["problem"]) for m in answer["missing"]} == {
            ("clinical", "indication", "REQUIRED"),
            ("technique", "technique", "REQUIRED"),
            ("findings", "findings", "REQUIRED"),
            ("findings", "lirads", "REQUIRED"),
            (None, "impression", "REQUIRED"),
        }


async def test_a_coded_field_takes_only_its_codes_and_signing_names_what_is_left(api: Api) -> None:
    gid = await _reading(api)
    refused = await _draft(api, gid, {"findings": {"lirads": "LR-9"}})
    assert refused["__typename"] == "ValidationFailed"
    assert refused["errors"] == [
        {"field": "input.sections.findings.lirads", "code": "INVALID_VALUE"}
    ]
    saved = await _draft(
        api,
        gid,
        {"findings": {"findings": "7 mm arterial enhancing observation", "lirads": "LR-4"}},
    )
    assert saved["__typename"] == "ReportDraftSaved"
    early = await _sign(api, gid, "signPreliminary")
    assert early["__typename"] == "ReportIncomplete"
    assert [(m["section"], m["field"]) for m in early["missing"]] == [
        ("clinical", "indication"),
        ("technique", "technique"),
        (None, "impression"),
    ]
    await _draft(
        api,
        gid,
        {
            "clinical": {"indication": "Cirrhosis, surveillance"},
            "technique": {"technique": "Multiphase MRI"},
        },
        impression="LR-4 observation in segment 7.",
    )
    assert (await _sign(api, gid))["__typename"] == "ReportSignedFinal"


async def test_a_stale_draft_is_refused_with_conflict_and_the_newer_draft_stays(api: Api) -> None:
    gid = await _reading(api)
    seen = (await api.data(EXAM_TEMPLATE, {"id": gid}))["exam"]["version"]  # type: ignore[index]
    first = await _draft(api, gid, {"findings": {"findings": "first tab"}}, expectedVersion=seen)
    assert first["__typename"] == "ReportDraftSaved"
    assert first["exam"]["version"] > seen
    second = await _draft(api, gid, {"findings": {"findings": "second tab"}}, expectedVersion=seen)
    assert second["__typename"] == "Conflict" and second["code"] == "CONFLICT"
    assert "changed concurrently" in second["message"]
    report = (
        await api.data(
            "query($id: ID!) { exam(id: $id) { report { sections { key "
            "fields { key value } } } } }",
            {"id": gid},
        )
    )["exam"]["report"]  # type: ignore[index]
    findings = next(s for s in report["sections"] if s["key"] == "findings")
    assert findings["fields"] == [{"key": "findings", "value": "first tab"}]
    # With the version the first save returned, the writer goes on.
    third = await _draft(
        api, gid, {"findings": {"findings": "second tab"}}, expectedVersion=first["exam"]["version"]
    )
    assert third["__typename"] == "ReportDraftSaved"
