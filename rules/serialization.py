"""Rule sets to and from plain JSON-ready data (how versions are stored and imported).

Reading never raises on bad input: every problem comes back as a RuleError naming the rule and
field, like the save-time validation, so an API can return it on the payload.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import fields
from enum import StrEnum
from typing import Any

from domain.enums import Priority, Subspecialty
from rules.errors import ErrorCode, RuleError
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

ACTION_KINDS: dict[str, type[Action]] = {
    "set_priority": SetPriority,
    "set_turnaround": SetTurnaround,
    "escalate_priority": EscalatePriority,
    "require_subspecialty": RequireSubspecialty,
    "restrict_radiologists": RestrictRadiologists,
    "exclude_radiologists": ExcludeRadiologists,
    "restrict_sites": RestrictSites,
    "exclude_sites": ExcludeSites,
    "cap_per_radiologist": CapPerRadiologist,
    "set_weights": SetWeights,
}
_KIND_OF = {cls: kind for kind, cls in ACTION_KINDS.items()}

# How each action field is read from plain data; a ValueError or TypeError means bad input.
_READERS: dict[str, Callable[[Any], Any]] = {
    "priority": Priority,
    "to": Priority,
    "subspecialty": Subspecialty,
    "minutes": int,
    "due_within_minutes": int,
    "waiting_over_minutes": int,
    "max_open": int,
    "radiologist_ids": lambda v: frozenset(int(x) for x in v),
    "sites": lambda v: frozenset(str(x) for x in v),
    "lateness": float,
    "balance": float,
    "stability": float,
    "fairness": float,
    "only_if_on_shift": lambda v: _boolean(v),
}


def _boolean(value: object) -> bool:
    # bool("false") is True: accept real booleans only.
    if not isinstance(value, bool):
        raise TypeError(f"expected true or false, got {value!r}")
    return value


def _plain(value: object) -> object:
    if isinstance(value, StrEnum):
        return value.value
    if isinstance(value, frozenset):
        return sorted(value)
    return value


def action_to_data(action: Action) -> dict[str, object]:
    """One action as a dict with a `kind` key."""
    data: dict[str, object] = {"kind": _KIND_OF[type(action)]}
    for f in fields(action):
        data[f.name] = _plain(getattr(action, f.name))
    return data


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
    if not isinstance(raw, Mapping) or raw.get("kind") not in ACTION_KINDS:
        kinds = ", ".join(ACTION_KINDS)
        return None, (".kind", ErrorCode.INVALID, f"unknown action kind; one of: {kinds}")
    cls = ACTION_KINDS[str(raw["kind"])]
    values: dict[str, Any] = {}
    for f in fields(cls):
        if raw.get(f.name) is None:
            continue
        try:
            values[f.name] = _READERS[f.name](raw[f.name])
        except (TypeError, ValueError):
            code = (
                ErrorCode.UNKNOWN_VALUE
                if f.name in ("priority", "to", "subspecialty")
                else ErrorCode.INVALID
            )
            return None, (f".{f.name}", code, f"bad {f.name} {raw[f.name]!r}")
    try:
        return cls(**values), None
    except TypeError as e:
        return None, ("", ErrorCode.REQUIRED, f"missing field: {e}")
