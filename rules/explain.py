"""Turn what fired for one study into AppliedRule records; shared by both evaluators."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rules.actions import kind_of
from rules.actions.builtin import escalation_target
from rules.compiled import CompiledRule
from rules.effects import AppliedRule, Change
from rules.model import Action

__all__ = ["applied_rule", "describe", "escalation_target"]


def describe(
    action: Action,
    rule: CompiledRule,
    base_rank: int,
    winners: Mapping[str, int | None],
    names: Mapping[int, str],
) -> Change:
    """The Change one fired action made to a study."""
    return kind_of(action).change(action, rule, base_rank, winners, names)


def applied_rule(
    rule: CompiledRule,
    fired: Sequence[bool],
    base_rank: int,
    winners: Mapping[str, int | None],
    names: Mapping[int, str],
) -> AppliedRule | None:
    """The AppliedRule for `rule` given which of its actions fired, or None if none did."""
    changes = tuple(
        describe(a, rule, base_rank, winners, names)
        for a, hit in zip(rule.rule.actions, fired, strict=True)
        if hit
    )
    if not changes:
        return None
    return AppliedRule(rule.index, rule.rule.name, rule.rule.order, changes)
