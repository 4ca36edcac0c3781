"""Structured report templates: what a report must hold, and the coded values it may use.

A template is stored as a JSON document (`ReportTemplate.sections`); this module is the one
reader of that document. Each field is free text or a coded field whose value must be one of
its code system's codes (BI-RADS for breast imaging, Lung-RADS for lung screening CT, LI-RADS
for liver imaging in patients at risk of hepatocellular carcinoma). Drafts may be partial;
a report is signed only when every required field is filled and every coded value is allowed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from domain.errors import IssueCode, MissingReportField

IMPRESSION = "impression"  # the report's own required field, outside the template's sections
TEXT_LIMIT = 4000  # characters of any one report field, the impression included


class FieldKind(StrEnum):
    """How a template field is filled in."""

    TEXT = "TEXT"
    CODED = "CODED"


class CodeSystem(StrEnum):
    """The coded vocabularies a report field may draw its value from."""

    BI_RADS = "BI_RADS"
    BREAST_DENSITY = "BREAST_DENSITY"
    LUNG_RADS = "LUNG_RADS"
    LI_RADS = "LI_RADS"


@dataclass(frozen=True)
class Code:
    """One allowed value of a code system: what is stored and what a reader sees."""

    code: str
    meaning: str


CODES: dict[CodeSystem, tuple[Code, ...]] = {
    # ACR BI-RADS assessment categories (5th edition).
    CodeSystem.BI_RADS: (
        Code("0", "Incomplete: needs additional imaging evaluation"),
        Code("1", "Negative"),
        Code("2", "Benign"),
        Code("3", "Probably benign"),
        Code("4", "Suspicious"),
        Code("4A", "Low suspicion for malignancy"),
        Code("4B", "Moderate suspicion for malignancy"),
        Code("4C", "High suspicion for malignancy"),
        Code("5", "Highly suggestive of malignancy"),
        Code("6", "Known biopsy-proven malignancy"),
    ),
    # ACR BI-RADS breast composition.
    CodeSystem.BREAST_DENSITY: (
        Code("A", "Almost entirely fatty"),
        Code("B", "Scattered areas of fibroglandular density"),
        Code("C", "Heterogeneously dense"),
        Code("D", "Extremely dense"),
    ),
    # ACR Lung-RADS v2022 categories.
    CodeSystem.LUNG_RADS: (
        Code("0", "Incomplete"),
        Code("1", "Negative"),
        Code("2", "Benign appearance or behavior"),
        Code("3", "Probably benign"),
        Code("4A", "Suspicious"),
        Code("4B", "Very suspicious"),
        Code("4X", "Very suspicious, with additional features"),
    ),
    # ACR LI-RADS CT/MRI diagnostic categories (v2018).
    CodeSystem.LI_RADS: (
        Code("LR-NC", "Not categorizable"),
        Code("LR-1", "Definitely benign"),
        Code("LR-2", "Probably benign"),
        Code("LR-3", "Intermediate probability of malignancy"),
        Code("LR-4", "Probably hepatocellular carcinoma"),
        Code("LR-5", "Definitely hepatocellular carcinoma"),
        Code("LR-M", "Probably or definitely malignant, not specific for HCC"),
        Code("LR-TIV", "Tumor in vein"),
    ),
}


@dataclass(frozen=True)
class TemplateField:
    """One field of a template section."""

    key: str
    label: str
    required: bool
    kind: FieldKind = FieldKind.TEXT
    code_system: CodeSystem | None = None

    @property
    def codes(self) -> tuple[Code, ...]:
        """The values a coded field accepts (empty for free text)."""
        return CODES[self.code_system] if self.code_system is not None else ()

    def accepts(self, value: str) -> bool:
        """Whether `value` may be stored in this field (any text, or one of its codes)."""
        return self.kind == FieldKind.TEXT or any(c.code == value for c in self.codes)


@dataclass(frozen=True)
class TemplateSection:
    """A titled group of fields."""

    key: str
    title: str
    fields: tuple[TemplateField, ...]


def field_document(
    key: str, label: str, required: bool, code_system: CodeSystem | None = None
) -> dict[str, object]:
    """A field as the template document stores it."""
    document: dict[str, object] = {
        "key": key,
        "label": label,
        "required": required,
        "type": FieldKind.TEXT.value,
    }
    if code_system is not None:
        document |= {"type": FieldKind.CODED.value, "code_system": code_system.value}
    return document


def parse_sections(document: Sequence[Mapping[str, object]]) -> tuple[TemplateSection, ...]:
    """The sections of a stored template (a field without a `type` is free text)."""
    sections = []
    for raw in document:
        fields = raw.get("fields", [])
        assert isinstance(fields, list)
        sections.append(
            TemplateSection(
                key=str(raw["key"]),
                title=str(raw.get("title", raw["key"])),
                fields=tuple(_field(f) for f in fields),
            )
        )
    return tuple(sections)


def _field(raw: Mapping[str, object]) -> TemplateField:
    system = raw.get("code_system")
    return TemplateField(
        key=str(raw["key"]),
        label=str(raw.get("label", raw["key"])),
        required=bool(raw.get("required", False)),
        kind=FieldKind(str(raw.get("type", FieldKind.TEXT.value))),
        code_system=CodeSystem(str(system)) if system else None,
    )


def unsignable_fields(
    sections: Sequence[TemplateSection], content: Mapping[str, object], impression: str
) -> list[MissingReportField]:
    """Every field that keeps a report from being signed: required and empty, or a coded
    value that is not one of its codes."""
    found = []
    for section in sections:
        raw = content.get(section.key)
        values: Mapping[str, object] = raw if isinstance(raw, Mapping) else {}
        for spec in section.fields:
            value = str(values.get(spec.key, "")).strip()
            if not value:
                if spec.required:
                    found.append(
                        MissingReportField(section.key, spec.key, spec.label, IssueCode.REQUIRED)
                    )
            elif not spec.accepts(value):
                found.append(
                    MissingReportField(section.key, spec.key, spec.label, IssueCode.INVALID_VALUE)
                )
    if not impression.strip():
        found.append(MissingReportField(None, IMPRESSION, "Impression", IssueCode.REQUIRED))
    return found
