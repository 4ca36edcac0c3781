"""Rule action kinds, one object each, found here: a module that defines `KIND` (or `KINDS`)
contributes its kinds. Adding an action is adding a module and its tests; serialization,
validation, explanation, the evaluators, the balancer bridge and the GraphQL enum and input
fields all read `KINDS`.
"""

from __future__ import annotations

import importlib
import pkgutil

from rules.actions.base import ActionField, ActionKind, Context, FieldType


def _discover() -> tuple[ActionKind, ...]:
    found: list[ActionKind] = []
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_") or info.name == "base":
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        kinds = getattr(module, "KINDS", None) or (getattr(module, "KIND", None),)
        found += [k for k in kinds if isinstance(k, ActionKind)]
    names = [k.kind for k in found]
    if len(set(names)) != len(names):
        raise RuntimeError(f"two rule actions share a kind: {sorted(names)}")
    return tuple(sorted(found, key=lambda k: (k.position, k.kind)))


KINDS: tuple[ActionKind, ...] = _discover()
BY_KIND: dict[str, ActionKind] = {k.kind: k for k in KINDS}
BY_TYPE: dict[type, ActionKind] = {k.action: k for k in KINDS}
URGENCY: tuple[type, ...] = tuple(k.action for k in KINDS if k.phase == "urgency")
ROUTING: tuple[type, ...] = tuple(k.action for k in KINDS if k.phase == "routing")
MARKS: dict[type, str] = {k.action: k.mark for k in KINDS if k.mark is not None}


def kind_of(action: object) -> ActionKind:
    """The registered kind of an action object."""
    return BY_TYPE[type(action)]


__all__ = [
    "BY_KIND",
    "BY_TYPE",
    "KINDS",
    "MARKS",
    "ROUTING",
    "URGENCY",
    "ActionField",
    "ActionKind",
    "Context",
    "FieldType",
    "kind_of",
]
