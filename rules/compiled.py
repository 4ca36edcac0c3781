"""A rule set compiled once at activation: checked conditions, IR and per-study predicates."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from domain.enums import PatientClass, Priority
from rules.actions import ROUTING, URGENCY
from rules.errors import ConditionError, RuleError
from rules.ir import Cond, attributes_of
from rules.language import CheckedCondition, check_condition
from rules.model import CapPerRadiologist, Rule, RuleSet
from rules.scalar import Predicate, compile_predicate

# Routing conditions see these two facts as the urgency actions left them.
EFFECTIVE_ATTRIBUTES = frozenset({"priority", "minutes_until_due"})

DefaultTurnaround = Mapping[tuple[Priority, PatientClass], int]


@dataclass(frozen=True)
class CompiledRule:
    """One enabled rule, ready for both evaluators."""

    index: int
    rule: Rule
    checked: CheckedCondition
    predicate: Predicate
    has_urgency: bool
    has_routing: bool
    reads_effective: bool

    @property
    def ir(self) -> Cond:
        """The rule's condition as IR."""
        return self.checked.ir


@dataclass(frozen=True)
class CompiledRuleSet:
    """Enabled rules in precedence order (lower `order` first, then position in the set)."""

    rule_set: RuleSet
    rules: tuple[CompiledRule, ...]

    @property
    def caps(self) -> dict[str, int]:
        """Cap group (the rule's name) -> the most such studies one radiologist may hold."""
        return {
            c.rule.name: a.max_open
            for c in self.rules
            for a in c.rule.actions
            if isinstance(a, CapPerRadiologist)
        }

    @property
    def cap_bends(self) -> dict[str, float]:
        """Cap group -> the price of each STAT over it, for the caps that bend for STAT."""
        return {
            c.rule.name: a.stat_over_price
            for c in self.rules
            for a in c.rule.actions
            if isinstance(a, CapPerRadiologist) and a.stat_over_price is not None
        }


class InvalidRuleSet(ValueError):
    """A rule set whose conditions do not compile; `errors` says which and why."""

    def __init__(self, errors: list[RuleError]) -> None:
        super().__init__(f"{len(errors)} invalid rule condition(s)")
        self.errors = errors


def condition_error(index: int, rule: Rule, error: ConditionError) -> RuleError:
    """The RuleError for a condition problem of rule `index`."""
    p = error.problem
    return RuleError(index, rule.name, "condition", p.code, p.message, p.position)


def compile_rule_set(rule_set: RuleSet) -> CompiledRuleSet:
    """Check and compile every enabled rule's condition; raise InvalidRuleSet on any problem."""
    compiled: list[CompiledRule] = []
    errors: list[RuleError] = []
    for index, rule in enumerate(rule_set.rules):
        if not rule.enabled:
            continue
        try:
            checked = check_condition(rule.condition)
        except ConditionError as e:
            errors.append(condition_error(index, rule, e))
            continue
        compiled.append(
            CompiledRule(
                index=index,
                rule=rule,
                checked=checked,
                predicate=compile_predicate(checked.ir),
                has_urgency=any(isinstance(a, URGENCY) for a in rule.actions),
                has_routing=any(isinstance(a, ROUTING) for a in rule.actions),
                reads_effective=bool(attributes_of(checked.ir) & EFFECTIVE_ATTRIBUTES),
            )
        )
    if errors:
        raise InvalidRuleSet(errors)
    compiled.sort(key=lambda c: (c.rule.order, c.index))
    return CompiledRuleSet(rule_set, tuple(compiled))
