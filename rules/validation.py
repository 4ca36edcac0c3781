"""Save-time validation: every blocking problem of a rule set as a typed RuleError."""

from __future__ import annotations

from collections.abc import Iterator, Set

from rules.actions import KINDS, Context, kind_of
from rules.compiled import condition_error
from rules.errors import ConditionError, ErrorCode, RuleError
from rules.ir import All, AnyOf, Attr, Compare, Cond, Const, Member, Not
from rules.language import check_condition
from rules.model import Rule, RuleSet

_SINGLE_VALUED = tuple(k.action for k in KINDS if k.single_valued)


def validate_rule_set(
    rule_set: RuleSet,
    *,
    known_radiologist_ids: Set[int] | None = None,
    known_sites: Set[str] | None = None,
    known_weights: Set[str] | None = None,
) -> list[RuleError]:
    """All blocking problems; an empty list means the rule set may be saved and compiled.

    `known_weights` are the objective weights a rule may set (the balancer's registry).
    """
    context = Context(known_radiologist_ids, known_sites, known_weights)
    errors: list[RuleError] = []
    seen: dict[str, int] = {}
    for index, rule in enumerate(rule_set.rules):
        errors.extend(_validate_rule(index, rule, context))
        if rule.name.strip() and rule.name in seen:
            errors.append(
                RuleError(
                    index,
                    rule.name,
                    "name",
                    ErrorCode.DUPLICATE_NAME,
                    f"rule {seen[rule.name]} already has the name {rule.name!r}",
                )
            )
        seen.setdefault(rule.name, index)
    return errors


def _validate_rule(index: int, rule: Rule, context: Context) -> Iterator[RuleError]:
    def error(field: str, code: ErrorCode, message: str) -> RuleError:
        return RuleError(index, rule.name, field, code, message)

    if not rule.name.strip():
        yield error("name", ErrorCode.REQUIRED, "a rule needs a name")
    if rule.order < 0:
        yield error("order", ErrorCode.IMPOSSIBLE_VALUE, "order must be 0 or more")
    try:
        checked = check_condition(rule.condition)
    except ConditionError as e:
        yield condition_error(index, rule, e)
    else:
        if context.sites is not None:
            for value in _site_literals(checked.ir):
                if value not in context.sites:
                    yield error("condition", ErrorCode.UNKNOWN_SITE, f"unknown site {value!r}")
    if not rule.actions:
        yield error("actions", ErrorCode.REQUIRED, "a rule needs at least one action")
    kinds = [type(a) for a in rule.actions]
    for kind in _SINGLE_VALUED:
        if kinds.count(kind) > 1:
            yield error(
                "actions", ErrorCode.INVALID, f"a rule can have only one {kind.__name__} action"
            )
    for k, action in enumerate(rule.actions):
        for field, code, message in kind_of(action).problems(action, context):
            yield error(f"actions[{k}].{field}", code, message)


def _site_literals(node: Cond) -> Iterator[str]:
    """Site codes a condition compares with, to check them against the known sites."""
    match node:
        case (
            Compare(left=Attr(name="site"), right=Const(value=str(v)))
            | Compare(left=Const(value=str(v)), right=Attr(name="site"))
        ):
            yield v
        case Member(attr=Attr(name="site"), values=values):
            yield from (str(v) for v in values)
        case All(terms=terms) | AnyOf(terms=terms):
            for t in terms:
                yield from _site_literals(t)
        case Not(operand=operand):
            yield from _site_literals(operand)
