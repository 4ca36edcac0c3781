"""The GraphQL face of the rule actions, derived from the registries: the `RuleActionKind`
enum from `rules.actions.KINDS`, and the flattened fields of `RuleActionInput` / `RuleAction`
from each kind's fields (the weight action's from the balancer's rule-settable terms).

A new action or rule-settable term appears here by itself; the order of the fields is the
registries' order, so existing fields keep their place in the schema.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

import strawberry

from api.enums import Priority, Subspecialty
from balancer.terms import RULE_SETTABLE
from rules.actions import KINDS
from rules.actions.base import ActionField, FieldType
from rules.actions.builtin import SetWeightsKind

_KIND_ENUM: Any = Enum("RuleActionKind", [(k.kind.upper(), k.kind) for k in KINDS])  # type: ignore[misc]  # members from the registry
RuleActionKind: Any = strawberry.enum(_KIND_ENUM, description="What a rule's action does.")

_TYPES: dict[FieldType, Any] = {
    FieldType.PRIORITY: Priority,
    FieldType.SUBSPECIALTY: Subspecialty,
    FieldType.INT: int,
    FieldType.FLOAT: float,
    FieldType.BOOL: bool,
    FieldType.RADIOLOGISTS: list[str],
    FieldType.SITES: list[str],
}


@dataclass(frozen=True, slots=True)
class ApiField:
    """One flattened action field: its GraphQL (snake) name, the stored one, and its type."""

    name: str
    stored: str
    type: FieldType
    description: str | None


def _api_field(f: ActionField) -> ApiField:
    # Radiologists are named by code over the API and stored by id.
    name = "radiologist_codes" if f.type is FieldType.RADIOLOGISTS else f.name
    return ApiField(name, f.name, f.type, f.description)


def _fields() -> tuple[ApiField, ...]:
    out: dict[str, ApiField] = {}
    for kind in KINDS:
        declared = (
            tuple(ActionField(w, FieldType.FLOAT, float) for w in RULE_SETTABLE)
            if isinstance(kind, SetWeightsKind)
            else kind.fields
        )
        for f in declared:
            out.setdefault(f.name, _api_field(f))
    return tuple(out.values())


ACTION_FIELDS: tuple[ApiField, ...] = _fields()
ENUM_FIELDS: dict[str, Any] = {
    f.name: _TYPES[f.type]
    for f in ACTION_FIELDS
    if f.type in (FieldType.PRIORITY, FieldType.SUBSPECIALTY)
}


def action_class(name: str, *, descriptions: bool) -> type:
    """A plain class with `kind` and every flattened field (None by default), for strawberry."""
    annotations: dict[str, Any] = {"kind": RuleActionKind}
    namespace: dict[str, Any] = {"__annotations__": annotations, "__module__": __name__}
    for f in ACTION_FIELDS:
        annotations[f.name] = _TYPES[f.type] | None
        namespace[f.name] = (
            strawberry.field(default=None, description=f.description)
            if descriptions and f.description
            else None
        )
    return type(name, (), namespace)
