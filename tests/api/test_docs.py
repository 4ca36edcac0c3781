"""docs/api.md tells the contract the code keeps: its table of error codes is the code's."""

from __future__ import annotations

import re
from pathlib import Path

from api.contract import error_table
from api.schema import build_schema
from application.settings import Settings

API_MD = Path(__file__).resolve().parents[2] / "docs" / "api.md"


def _documented_table() -> str:
    text = API_MD.read_text()
    start, end = "<!-- error-table:start -->\n", "<!-- error-table:end -->"
    return text[text.index(start) + len(start) : text.index(end)]


def test_the_error_table_in_docs_is_the_one_the_code_gives() -> None:
    assert _documented_table() == error_table(build_schema(Settings())._schema), (
        "docs/api.md is stale: paste the output of `python -m api.contract` between the "
        "error-table markers"
    )


def test_the_error_table_names_every_mutation() -> None:
    mutation = build_schema(Settings())._schema.mutation_type
    assert mutation is not None
    named = re.findall(r"^\| `(\w+)` \|", _documented_table(), re.MULTILINE)
    assert named == list(mutation.fields)


def test_the_report_incomplete_row_says_how_signing_answers() -> None:
    rows = {
        line.split("|")[1].strip(" `"): line
        for line in _documented_table().splitlines()
        if line.startswith("| `")
    }
    for name in ("signPreliminary", "signFinal"):
        assert "ReportIncomplete" in rows[name] and "REPORT_INCOMPLETE" in rows[name]
    assert "ReportIncomplete" not in rows["saveReportDraft"]
