"""Report templates as the domain reads them: field kinds, codes, and what blocks signing."""

from __future__ import annotations

import pytest

from domain.catalog_data import PROCEDURES, REPORT_TEMPLATES
from domain.errors import IssueCode, MissingReportField
from domain.reporting import (
    CODES,
    CodeSystem,
    FieldKind,
    field_document,
    parse_sections,
    unsignable_fields,
)

LIVER = parse_sections(
    [
        {
            "key": "findings",
            "title": "Findings",
            "fields": [
                field_document("findings", "Findings", True),
                field_document("lirads", "LI-RADS", True, CodeSystem.LI_RADS),
            ],
        },
    ]
)


def test_a_stored_field_without_a_type_reads_as_free_text() -> None:
    [section] = parse_sections(
        [{"key": "s", "fields": [{"key": "f", "label": "F", "required": True}]}]
    )
    [field] = section.fields
    assert (field.kind, field.code_system, field.codes, section.title) == (
        FieldKind.TEXT,
        None,
        (),
        "s",
    )
    assert field.accepts("anything at all")


def test_a_coded_field_accepts_exactly_its_codes() -> None:
    lirads = LIVER[0].fields[1]
    assert lirads.kind == FieldKind.CODED
    assert all(lirads.accepts(c.code) for c in CODES[CodeSystem.LI_RADS])
    assert not lirads.accepts("LR-9") and not lirads.accepts("lr-5")


@pytest.mark.parametrize(
    ("content", "impression", "expected"),
    [
        (
            {},
            "",
            [
                ("findings", "findings", IssueCode.REQUIRED),
                ("findings", "lirads", IssueCode.REQUIRED),
                (None, "impression", IssueCode.REQUIRED),
            ],
        ),
        (
            {"findings": {"findings": "x", "lirads": "LR-9"}},
            "y",
            [("findings", "lirads", IssueCode.INVALID_VALUE)],
        ),
        (
            {"findings": {"findings": "  ", "lirads": "LR-5"}},
            "y",
            [("findings", "findings", IssueCode.REQUIRED)],
        ),
        ({"findings": {"findings": "x", "lirads": "LR-5"}}, "y", []),
    ],
)
def test_what_keeps_a_report_from_being_signed(
    content: dict[str, dict[str, str]],
    impression: str,
    expected: list[tuple[str | None, str, IssueCode]],
) -> None:
    found = unsignable_fields(LIVER, content, impression)
    assert [(m.section, m.field, m.problem) for m in found] == expected
    assert all(isinstance(m, MissingReportField) for m in found)


def test_every_procedure_names_a_template_and_every_coded_field_a_code_system() -> None:
    assert {p[-1] for p in PROCEDURES} <= set(REPORT_TEMPLATES)
    coded = {
        f.code_system
        for _, sections in REPORT_TEMPLATES.values()
        for s in parse_sections(sections)
        for f in s.fields
        if f.kind == FieldKind.CODED
    }
    assert coded == set(CodeSystem)
