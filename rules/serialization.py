"""Rule sets to and from plain JSON-ready data (how versions are stored and imported).

Reading never raises on bad input: every problem comes back as a RuleError naming the rule and
field, like the save-time validation, so an API can return it on the payload.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rules.actions import BY_KIND, kind_of
from rules.actions.base import FieldType
from rules.errors import ErrorCode, RuleError
from rules.model import Action, Rule, RuleSet

ACTION_KINDS = BY_KIND


def action_to_data(action: Action) -> dict[str, object]:
    """One action as a dict with a `kind` key."""
    kind = kind_of(action)
    return {"kind": kind.kind, **kind.to_data(action)}


def rule_set_to_data(rule_set: RuleSet) -> list[dict[str, object]]:
    """The rule set as a JSON-ready list of rules."""
    return [
        {
            "name": r.name,
            "description": r.description,
            "order": r.order,
            "enabled": r.enabled,
            "condition": r.condition,
            "actions": [action_to_data(a) for a in r.actions],
        }
        for r in rule_set.rules
    ]


def rule_set_from_data(data: object) -> tuple[RuleSet, list[RuleError]]:
    """Read a rule set from plain data; errors name what could not be read (and is skipped)."""
    errors: list[RuleError] = []
    if not isinstance(data, list):
        return RuleSet(), [RuleError(None, None, "rules", ErrorCode.INVALID, "expected a list")]
    rules: list[Rule] = []
    for index, item in enumerate(data):
        if not isinstance(item, Mapping):
            errors.append(RuleError(index, None, "", ErrorCode.INVALID, "expected an object"))
            continue
        name = str(item.get("name", ""))
        actions: list[Action] = []
        raw_actions = item.get("actions", [])
        for k, raw in enumerate(raw_actions if isinstance(raw_actions, list) else []):
            action, problem = _action_from_data(raw)
            if problem is not None:
                field, code, message = problem
                errors.append(RuleError(index, name, f"actions[{k}]{field}", code, message))
            elif action is not None:
                actions.append(action)
        try:
            rules.append(
                Rule(
                    name=name,
                    condition=str(item.get("condition", "")),
                    actions=tuple(actions),
                    order=int(item.get("order", 100)),
                    enabled=bool(item.get("enabled", True)),
                    description=str(item.get("description", "")),
                )
            )
        except (TypeError, ValueError):
            errors.append(
                RuleError(index, name, "order", ErrorCode.INVALID, "order must be a whole number")
            )
    return RuleSet(tuple(rules)), errors


def _action_from_data(raw: object) -> tuple[Action | None, tuple[str, ErrorCode, str] | None]:
    if not isinstance(raw, Mapping) or raw.get("kind") not in BY_KIND:
        kinds = ", ".join(BY_KIND)
        return None, (".kind", ErrorCode.INVALID, f"unknown action kind; one of: {kinds}")
    kind = BY_KIND[str(raw["kind"])]
    values: dict[str, Any] = {}
    for field in kind.fields_of(raw):
        name = field.name
        if raw.get(name) is None:
            continue
        try:
            values[name] = field.read(raw[name])
        except (TypeError, ValueError):
            enum = field.type in (FieldType.PRIORITY, FieldType.SUBSPECIALTY)
            code = ErrorCode.UNKNOWN_VALUE if enum else ErrorCode.INVALID
            return None, (f".{name}", code, f"bad {name} {raw[name]!r}")
    try:
        return kind.from_data(values), None
    except TypeError as e:
        return None, ("", ErrorCode.REQUIRED, f"missing field: {e}")
