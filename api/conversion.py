"""Input objects built from a request's values by a converter compiled once per input type.

Strawberry builds an input object field by field through its generic `convert_argument`,
which resolves each field's type and GraphQL name again, for every field of every request.
Most fields of radflow's inputs are scalars and enums that graphql-core has already coerced,
so their Python value is the value itself. `compile_inputs` gives every input type of the
schema a `from_input` (strawberry's hook for types that build their own value) that takes
those values as they are, copies lists of them (as strawberry does: a default list is shared
by every request that omits it) and hands every other field (a nested input, a list of
inputs) to strawberry's own conversion, exactly as before. A type with a `Maybe` field keeps
strawberry's path whole (strawberry validates its nulls only for types without the hook).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import MISSING
from typing import Any

import strawberry
from strawberry.relay import GlobalID
from strawberry.scalars import is_scalar
from strawberry.types.arguments import InputContext
from strawberry.types.base import (
    StrawberryList,
    StrawberryMaybe,
    StrawberryObjectDefinition,
    StrawberryOptional,
    StrawberryType,
)
from strawberry.types.enum import StrawberryEnumDefinition, has_enum_definition

FromInput = Callable[[type, Mapping[str, Any], InputContext], Any]
Registry = Mapping[object, Any]
# How one field's value becomes its Python value; None: it already is.
Convert = Callable[[Any, InputContext], Any]
# (GraphQL name, Python name, conversion) per field, and the fields that are None if unsent.
Plan = tuple[list[tuple[str, str, Convert | None]], dict[str, None]]


def compile_inputs(schema: strawberry.Schema) -> None:
    """Give each input type of `schema` a compiled `from_input` (a type that already builds
    its own value, or has a `Maybe` field, keeps strawberry's path)."""
    for concrete in list(schema.schema_converter.type_map.values()):
        definition = concrete.definition
        if (
            isinstance(definition, StrawberryObjectDefinition)
            and definition.is_input
            and definition.from_input is None
            and not definition.is_graphql_generic
            and not any(
                isinstance(field.resolve_type(type_definition=definition), StrawberryMaybe)
                for field in definition.fields
            )
        ):
            definition.from_input = compiled(definition)


def compiled(definition: StrawberryObjectDefinition) -> FromInput:
    """The `from_input` of one input type.

    The hook belongs to the type, which any schema may use: the plan is made for the naming
    and scalars of the schema converting (its `InputContext`), the first time it converts.
    """
    plans: dict[tuple[int, int], tuple[object, object, Plan]] = {}

    def from_input(cls: type, value: Mapping[str, Any], context: InputContext) -> Any:
        config, registry = context.config, context.scalar_registry
        kept = plans.get((id(config), id(registry)))
        if kept is None or kept[0] is not config or kept[1] is not registry:
            plan = _plan(definition, config.name_converter.from_field, registry)
            kept = plans[id(config), id(registry)] = (config, registry, plan)
        steps, unset = kept[2]
        kwargs: dict[str, Any] = dict(unset)
        for name, python_name, convert in steps:
            if name in value:
                raw = value[name]
                kwargs[python_name] = raw if convert is None else convert(raw, context)
        return cls(**kwargs)

    return from_input


def _plan(
    definition: StrawberryObjectDefinition, name_of: Callable[[Any], str], registry: Registry
) -> Plan:
    steps: list[tuple[str, str, Convert | None]] = []
    for field in definition.fields:
        name = name_of(field)
        type_ = field.resolve_type(type_definition=definition)
        steps.append((name, field.python_name, _convert(type_, name, registry)))
    # As strawberry does: a field without a default is None until the value names it.
    unset = {
        field.python_name: None
        for field in definition.fields
        if field.default_value is MISSING and field.default_factory is MISSING
    }
    return steps, unset


def _convert(type_: StrawberryType | type, name: str, registry: Registry) -> Convert | None:
    if _is_leaf(_optional_of(type_), registry):
        return None
    inner = _optional_of(type_)
    if isinstance(inner, StrawberryList) and _is_leaf(_optional_of(inner.of_type), registry):
        return _copy_list

    def strawberry_path(value: Any, context: InputContext) -> Any:
        return context.convert(value, type_, name)

    return strawberry_path


def _optional_of(type_: StrawberryType | type) -> StrawberryType | type:
    """`T` for `T | None` (strawberry passes None through), else the type itself."""
    if isinstance(type_, StrawberryOptional) and not isinstance(type_, StrawberryMaybe):
        return type_.of_type
    return type_


def _copy_list(value: Any, _: InputContext) -> Any:
    # strawberry copies these too: graphql-core hands the same default list to every request
    return None if value is None else list(value)


def _is_leaf(type_: StrawberryType | type, registry: Registry) -> bool:
    """A scalar or an enum: graphql-core's coerced value is the Python value."""
    if type_ is GlobalID:  # strawberry decodes it into an object
        return False
    return (
        isinstance(type_, StrawberryEnumDefinition)
        or has_enum_definition(type_)
        or is_scalar(type_, registry)
    )
