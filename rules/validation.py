"""Save-time validation: every blocking problem of a rule set as a typed RuleError."""

from __future__ import annotations

import math
from collections.abc import Iterator, Set
from enum import StrEnum

from domain.enums import Priority, Subspecialty
from rules.compiled import condition_error
from rules.errors import ConditionError, ErrorCode, RuleError
from rules.ir import All, AnyOf, Attr, Compare, Cond, Const, Member, Not
from rules.language import check_condition
from rules.model import (
    Action,
    CapPerRadiologist,
    EscalatePriority,
    ExcludeRadiologists,
    ExcludeSites,
    RequireSubspecialty,
    RestrictRadiologists,
    RestrictSites,
    Rule,
    RuleSet,
    SetPriority,
    SetTurnaround,
    SetWeights,
)

_SINGLE_VALUED = (SetPriority, SetTurnaround, RequireSubspecialty)


def validate_rule_set(
    rule_set: RuleSet,
    *,
    known_radiologist_ids: Set[int] | None = None,
    known_sites: Set[str] | None = None,
) -> list[RuleError]:
    """All blocking problems; an empty list means the rule set may be saved and compiled."""
    errors: list[RuleError] = []
    seen: dict[str, int] = {}
    for index, rule in enumerate(rule_set.rules):
        errors.extend(_validate_rule(index, rule, known_radiologist_ids, known_sites))
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


def _validate_rule(
    index: int, rule: Rule, radiologists: Set[int] | None, sites: Set[str] | None
) -> Iterator[RuleError]:
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
        if sites is not None:
            for value in _site_literals(checked.ir):
                if value not in sites:
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
        for field, code, message in _action_problems(action, radiologists, sites):
            yield error(f"actions[{k}].{field}", code, message)


def _enum_ok(value: object, enum: type[StrEnum]) -> bool:
    return isinstance(value, enum)


def _minutes(
    value: int | None, field: str, required: bool = False
) -> Iterator[tuple[str, ErrorCode, str]]:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        yield field, ErrorCode.INVALID, f"{field} must be a whole number of minutes"
    elif value < 0 or (required and value == 0):
        yield field, ErrorCode.IMPOSSIBLE_VALUE, f"{field} cannot be {value} minutes"


def _ids(
    values: frozenset[int] | frozenset[str],
    known: Set[int] | Set[str] | None,
    field: str,
    code: ErrorCode,
    what: str,
) -> Iterator[tuple[str, ErrorCode, str]]:
    if not values:
        yield field, ErrorCode.REQUIRED, f"name at least one {what}"
    elif known is not None:
        unknown = sorted(str(v) for v in values if v not in known)
        if unknown:
            yield field, code, f"unknown {what}(s): {', '.join(unknown)}"


def _action_problems(
    action: Action, radiologists: Set[int] | None, sites: Set[str] | None
) -> Iterator[tuple[str, ErrorCode, str]]:
    match action:
        case SetPriority(priority=p) if not _enum_ok(p, Priority):
            yield "priority", ErrorCode.UNKNOWN_VALUE, f"unknown priority {p!r}"
        case SetTurnaround(minutes=m):
            yield from _minutes(m, "minutes", required=True)
        case EscalatePriority(to=to, due_within_minutes=due, waiting_over_minutes=waiting):
            if to is not None and not _enum_ok(to, Priority):
                yield "to", ErrorCode.UNKNOWN_VALUE, f"unknown priority {to!r}"
            if due is None and waiting is None:
                yield (
                    "due_within_minutes",
                    ErrorCode.REQUIRED,
                    "say when to escalate: due within N minutes or waiting over N minutes",
                )
            yield from _minutes(due, "due_within_minutes")
            yield from _minutes(waiting, "waiting_over_minutes")
        case RequireSubspecialty(subspecialty=s) if not _enum_ok(s, Subspecialty):
            yield "subspecialty", ErrorCode.UNKNOWN_VALUE, f"unknown subspecialty {s!r}"
        case RestrictRadiologists(radiologist_ids=ids) | ExcludeRadiologists(radiologist_ids=ids):
            yield from _ids(
                ids, radiologists, "radiologist_ids", ErrorCode.UNKNOWN_RADIOLOGIST, "radiologist"
            )
        case RestrictSites(sites=codes) | ExcludeSites(sites=codes):
            yield from _ids(codes, sites, "sites", ErrorCode.UNKNOWN_SITE, "site")
        case CapPerRadiologist(max_open=n):
            if isinstance(n, bool) or not isinstance(n, int) or n < 1:
                yield "max_open", ErrorCode.IMPOSSIBLE_VALUE, "a cap must allow at least 1 study"
        case SetWeights():
            values = {
                w: getattr(action, w) for w in ("lateness", "balance", "stability", "fairness")
            }
            if all(v is None for v in values.values()):
                yield "weights", ErrorCode.REQUIRED, "set at least one weight"
            for w, v in values.items():
                if v is not None and (
                    not isinstance(v, int | float) or not math.isfinite(v) or v < 0
                ):
                    yield w, ErrorCode.IMPOSSIBLE_VALUE, f"weight {w} must be a number >= 0"


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
