"""The typed vocabulary a rule condition may use, and the facts of one study in that vocabulary."""

from __future__ import annotations

from dataclasses import dataclass, fields
from enum import StrEnum

from domain.enums import Modality, PatientClass, Priority, Subspecialty


class Weekday(StrEnum):
    """Day of the week; names rather than numbers so `weekday in ["SAT", "SUN"]` reads as policy."""

    MON = "MON"
    TUE = "TUE"
    WED = "WED"
    THU = "THU"
    FRI = "FRI"
    SAT = "SAT"
    SUN = "SUN"


class AttributeType(StrEnum):
    """The four kinds of value a condition can compare."""

    STRING = "STRING"
    ENUM = "ENUM"
    INT = "INT"
    FLOAT = "FLOAT"


@dataclass(frozen=True, slots=True)
class Attribute:
    """One word of the rule language: its type, allowed values (enums) and range (numbers)."""

    name: str
    type: AttributeType
    description: str
    values: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None

    @property
    def is_number(self) -> bool:
        """Whether the attribute compares as a number."""
        return self.type in (AttributeType.INT, AttributeType.FLOAT)

    @property
    def is_text(self) -> bool:
        """Whether the attribute compares as text (a string or an enum value)."""
        return self.type in (AttributeType.STRING, AttributeType.ENUM)


def _enum(name: str, enum: type[StrEnum], description: str) -> Attribute:
    return Attribute(name, AttributeType.ENUM, description, tuple(m.value for m in enum))


# Priority order matters to escalation: index = rank, higher is more urgent.
PRIORITY_RANK: tuple[Priority, ...] = (Priority.ROUTINE, Priority.URGENT, Priority.STAT)


def _number(
    name: str,
    kind: AttributeType,
    description: str,
    low: float | None = None,
    high: float | None = None,
) -> Attribute:
    return Attribute(name, kind, description, minimum=low, maximum=high)


_INT, _FLOAT = AttributeType.INT, AttributeType.FLOAT

VOCABULARY: tuple[Attribute, ...] = (
    Attribute("procedure_code", AttributeType.STRING, "Catalog code of the ordered procedure."),
    _enum("modality", Modality, "DICOM modality of the study."),
    Attribute("body_part", AttributeType.STRING, "Body part examined, e.g. HEAD, CHEST."),
    _enum("subspecialty", Subspecialty, "Subspecialty the procedure is read by by default."),
    _enum("priority", Priority, "Priority (as ordered; as set by rules for routing actions)."),
    _enum("patient_class", PatientClass, "ED, inpatient or outpatient."),
    Attribute("site", AttributeType.STRING, "Code of the site where the study was acquired."),
    Attribute("referrer", AttributeType.STRING, "Code of the referring physician."),
    _number("patient_age", _INT, "Patient age in whole years.", 0, 150),
    Attribute("ai_flag", AttributeType.STRING, 'AI triage finding, "" when there is none.'),
    _number("ai_score", _FLOAT, "AI triage confidence, 0 when none.", 0, 1),
    _number("hour_of_day", _INT, "Hour of the evaluation time, 0-23.", 0, 23),
    _enum("weekday", Weekday, "Weekday of the evaluation time, MON..SUN."),
    _number("minutes_until_due", _INT, "Minutes left before the due time; negative when late."),
    _number("minutes_waiting", _INT, "Minutes since the study became ready to read.", 0),
    _number("wrvu", _FLOAT, "Work RVU of the procedure.", 0),
)

ATTRIBUTES: dict[str, Attribute] = {a.name: a for a in VOCABULARY}


@dataclass(frozen=True, slots=True)
class StudyFacts:
    """The values of every vocabulary attribute for one open study, plus its id."""

    study_id: int
    procedure_code: str
    modality: Modality
    body_part: str
    subspecialty: Subspecialty
    priority: Priority
    patient_class: PatientClass
    site: str
    referrer: str
    patient_age: int
    ai_flag: str
    ai_score: float
    hour_of_day: int
    weekday: Weekday
    minutes_until_due: int
    minutes_waiting: int
    wrvu: float

    def as_plain_dict(self) -> dict[str, str | int | float]:
        """The attribute values as plain str/int/float, keyed by attribute name (no study id)."""
        out: dict[str, str | int | float] = {}
        for a in VOCABULARY:
            value = getattr(self, a.name)
            out[a.name] = str(value) if a.is_text else value
        return out


FACT_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(StudyFacts))
assert FACT_FIELDS[1:] == tuple(a.name for a in VOCABULARY), "StudyFacts and VOCABULARY drifted"
