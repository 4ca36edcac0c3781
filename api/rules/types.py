"""GraphQL types of rules: rule sets, errors and warnings, explanations, previews."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry

from api.enums import Priority, Subspecialty
from api.errors import Error
from api.exams.types import Exam
from api.rules.actions import ACTION_FIELDS, ENUM_FIELDS, RuleActionKind, action_class
from rules import errors as rule_errors
from rules.actions.base import FieldType
from rules.vocabulary import AttributeType as DomainAttributeType

# strawberry.enum marks the rule library's class in place (see api.enums)
RuleErrorCode = rule_errors.ErrorCode
strawberry.enum(RuleErrorCode, name="RuleErrorCode", description="Why a rule set cannot be saved.")
RuleWarningCode = rule_errors.WarningCode
strawberry.enum(
    RuleWarningCode,
    name="RuleWarningCode",
    description="What to look at before activating a rule set.",
)
AttributeType = DomainAttributeType
strawberry.enum(AttributeType, description="The kind of value a rule condition compares.")


@strawberry.type(description="A word of the rule language, for building an editor.")
class RuleAttribute:
    name: str
    type: AttributeType
    description: str
    values: list[str] = strawberry.field(description="Allowed values of an ENUM.")
    minimum: float | None
    maximum: float | None


RuleAction: Any = strawberry.type(
    action_class("RuleAction", descriptions=False), description="One action of a rule."
)


@strawberry.type(description="A rule of a saved version.")
class Rule:
    name: str
    description: str
    order: int
    enabled: bool
    condition: str
    actions: list[RuleAction]


@strawberry.type(description="An immutable saved version of the rules.")
class RuleSet:
    version: int
    created_at: datetime
    author: str
    reason: str
    based_on: int | None
    active: bool
    rules: list[Rule]


@strawberry.type(description="A blocking problem: which rule, which field, what, and where.")
class RuleError:
    rule_index: int | None
    rule_name: str | None
    field: str
    code: RuleErrorCode
    message: str
    line: int | None = None
    column: int | None = None


@strawberry.type(description="The rule set has errors; nothing was saved.")
class RuleSetInvalid(Error):
    errors: list[RuleError]


@strawberry.type(description="A finding worth a look before activating; it does not block.")
class RuleWarning:
    code: RuleWarningCode
    message: str
    rule_names: list[str]
    exam_count: int


@strawberry.type(description="Rules that differ between two versions.")
class RuleDiff:
    added: list[Rule]
    removed: list[Rule]
    changed: list[RuleChangePair]


@strawberry.type(description="A rule present in both versions, before and after.")
class RuleChangePair:
    name: str
    before: Rule
    after: Rule


@strawberry.type(description="What a draft would change for one open study.")
class StudyRuleChange:
    exam: Exam
    fields: list[str]
    priority_before: Priority
    priority_after: Priority
    due_at_before: datetime | None
    due_at_after: datetime | None
    subspecialty_before: Subspecialty
    subspecialty_after: Subspecialty
    eligible_before: list[str] = strawberry.field(description="Radiologist codes.")
    eligible_after: list[str]
    assigned_before: str | None = strawberry.field(description="Radiologist code.")
    assigned_after: str | None


@strawberry.type(
    description="How the studies of one priority (as ordered) fared in the "
    "simulated day, against the catalogue's turnaround targets."
)
class SimulatedPriority:
    priority: Priority
    studies: int
    breach_rate: float
    turnaround_p50_minutes: float
    turnaround_p90_minutes: float
    turnaround_max_minutes: float


@strawberry.type(description="The key figures of one replay of the simulated day.")
class SimulatedDay:
    breach_rate: float = strawberry.field(description="Share of all studies read late.")
    by_priority: list[SimulatedPriority]
    wrvu_max_over_mean: float = strawberry.field(
        description="Load balance: the busiest reader's wRVU per own capacity over the "
        "mean (1.0 is perfectly even)."
    )
    unread: int = strawberry.field(description="Studies still unread when the replay ended.")
    ineligible_reads: int = strawberry.field(
        description="Reads by a reader the rules did not allow (0 unless something is wrong)."
    )
    seconds: float = strawberry.field(description="How long the replay took.")


@strawberry.type(
    description="The same simulated day under the active rules and the draft. Nothing was written."
)
class RuleSetSimulation:
    studies: int
    radiologists: int
    seed: int
    active: SimulatedDay = strawberry.field(
        description="Under the active rule set (none active: the balancer alone)."
    )
    draft: SimulatedDay
    caveats: list[str] = strawberry.field(
        description="What of the draft the synthetic day cannot show (named radiologists, "
        "AI triage)."
    )


def rule_from_data(data: dict[str, Any], codes: dict[int, str]) -> Rule:
    """A stored rule as GraphQL (radiologist ids shown as their codes)."""
    actions = []
    for raw in data.get("actions", []):
        values: dict[str, Any] = {}
        for f in ACTION_FIELDS:
            value = raw.get(f.stored)
            if value is None:
                continue
            if f.name in ENUM_FIELDS:
                value = ENUM_FIELDS[f.name](value)
            elif f.type is FieldType.RADIOLOGISTS:
                value = [codes.get(int(i), str(i)) for i in value]
            values[f.name] = value
        actions.append(RuleAction(kind=RuleActionKind[str(raw["kind"]).upper()], **values))
    return Rule(
        name=str(data["name"]),
        description=str(data.get("description", "")),
        order=int(data.get("order", 100)),
        enabled=bool(data.get("enabled", True)),
        condition=str(data.get("condition", "")),
        actions=actions,
    )
