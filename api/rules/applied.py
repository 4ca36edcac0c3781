"""Explanations: which rules fired for an exam and what each changed (exam.appliedRules)."""

from __future__ import annotations

import strawberry

from rules.effects import Effect


@strawberry.type(description="One change a fired rule made (or tried to: see `applied`).")
class RuleChange:
    field: str
    value: str
    applied: bool
    overridden_by: str | None


@strawberry.type(description="A rule that fired for an exam and what it changed.")
class AppliedRule:
    rule_name: str
    order: int
    changes: list[RuleChange]


def applied_rules(effect: Effect | None) -> list[AppliedRule]:
    """An effect's fired rules as GraphQL, in precedence order."""
    if effect is None:
        return []
    return [
        AppliedRule(
            rule_name=r.rule_name,
            order=r.order,
            changes=[
                RuleChange(
                    field=c.field, value=c.value, applied=c.applied, overridden_by=c.overridden_by
                )
                for c in r.changes
            ],
        )
        for r in effect.applied_rules
    ]
