"""Inputs of rule set mutations."""

from __future__ import annotations

from typing import Any

import strawberry

from api.rules.actions import RuleActionKind, action_class

__all__ = ["RuleActionInput", "RuleActionKind"]

RuleActionInput: Any = strawberry.input(
    action_class("RuleActionInput", descriptions=True),
    description="One action; fill the fields its kind uses.",
)


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
