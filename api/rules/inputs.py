"""Inputs of rule set mutations."""

from __future__ import annotations

from enum import Enum

import strawberry

from api.enums import Priority, Subspecialty


@strawberry.enum(description="What a rule's action does.")
class RuleActionKind(Enum):
    SET_PRIORITY = "set_priority"
    SET_TURNAROUND = "set_turnaround"
    ESCALATE_PRIORITY = "escalate_priority"
    REQUIRE_SUBSPECIALTY = "require_subspecialty"
    RESTRICT_RADIOLOGISTS = "restrict_radiologists"
    EXCLUDE_RADIOLOGISTS = "exclude_radiologists"
    RESTRICT_SITES = "restrict_sites"
    EXCLUDE_SITES = "exclude_sites"
    CAP_PER_RADIOLOGIST = "cap_per_radiologist"
    SET_WEIGHTS = "set_weights"


@strawberry.input(description="One action; fill the fields its kind uses.")
class RuleActionInput:
    kind: RuleActionKind
    priority: Priority | None = strawberry.field(default=None, description="SET_PRIORITY.")
    minutes: int | None = strawberry.field(default=None, description="SET_TURNAROUND.")
    to: Priority | None = strawberry.field(
        default=None, description="ESCALATE_PRIORITY target (default: one level up)."
    )
    due_within_minutes: int | None = None
    waiting_over_minutes: int | None = None
    subspecialty: Subspecialty | None = strawberry.field(
        default=None, description="REQUIRE_SUBSPECIALTY."
    )
    only_if_on_shift: bool | None = strawberry.field(
        default=None,
        description="REQUIRE_SUBSPECIALTY as a preference: applies only while "
        "someone with the subspecialty is on shift.",
    )
    radiologist_codes: list[str] | None = strawberry.field(
        default=None, description="RESTRICT_/EXCLUDE_RADIOLOGISTS."
    )
    sites: list[str] | None = strawberry.field(
        default=None, description="RESTRICT_/EXCLUDE_SITES (codes)."
    )
    max_open: int | None = strawberry.field(default=None, description="CAP_PER_RADIOLOGIST.")
    lateness: float | None = None
    balance: float | None = None
    stability: float | None = None
    fairness: float | None = None


@strawberry.input(description="A rule: when `condition` holds for a study, apply `actions`.")
class RuleInput:
    name: str
    condition: str = strawberry.field(
        description='e.g. modality == "CT" and body_part == "HEAD" and patient_class == "ED"'
    )
    actions: list[RuleActionInput]
    order: int = strawberry.field(default=100, description="Precedence: lower wins.")
    enabled: bool = True
    description: str = ""


@strawberry.input
class SaveRuleSetInput:
    rules: list[RuleInput]
    reason: str
    based_on: int | None = strawberry.field(
        default=None, description="The version this edit started from."
    )


@strawberry.input
class ActivateRuleSetInput:
    version: int
    reason: str


@strawberry.input
class PreviewRuleSetInput:
    rules: list[RuleInput]


@strawberry.input(description="An AI model's finding on a study.")
class PostAiTriageInput:
    exam_id: strawberry.ID
    finding: str = strawberry.field(description="e.g. intracranial_hemorrhage")
    score: float = strawberry.field(description="Confidence, 0 to 1.")
    model: str = "unspecified"


@strawberry.input(
    description="The simulated day to replay: drawn from `seed`, so the same "
    "input replays the same day."
)
class SimulationScenarioInput:
    studies: int = strawberry.field(default=2000, description="Studies over 24 hours (1-5000).")
    radiologists: int = strawberry.field(default=16, description="Readers on the roster (1-100).")
    seed: int = 1
    capacity_ratio: float = strawberry.field(
        default=1.1, description="Reading capacity over demand for the day (0.5-3)."
    )


@strawberry.input
class SimulateRuleSetInput:
    rules: list[RuleInput]
    scenario: SimulationScenarioInput = strawberry.field(default_factory=SimulationScenarioInput)
