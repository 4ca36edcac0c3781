"""Every input type's compiled `from_input` builds what strawberry's own conversion builds."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import strawberry
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLScalarType,
    coerce_input_value,
)
from strawberry.schema.config import StrawberryConfig
from strawberry.types.arguments import convert_argument
from strawberry.types.base import StrawberryObjectDefinition

from api.conversion import compile_inputs
from api.schema import build_schema
from application.settings import Settings

SCHEMA = build_schema(Settings())
SAMPLES: dict[str, object] = {
    "String": "text",
    "ID": "RXhhbToxMg==",
    "Int": 3,
    "Float": 1.5,
    "Boolean": True,
    "DateTime": "2030-01-02T08:30:00+00:00",
    "Date": "2030-01-02",
    "Time": "08:30:00",
}


def _inputs(schema: strawberry.Schema) -> list[StrawberryObjectDefinition]:
    return [
        concrete.definition
        for concrete in schema.schema_converter.type_map.values()
        if isinstance(concrete.definition, StrawberryObjectDefinition)
        and concrete.definition.is_input
    ]


INPUTS = _inputs(SCHEMA)


def _sample(type_: GraphQLInputType, *, full: bool) -> object:
    """A JSON value of `type_`: every field filled (`full`) or only the required ones."""
    if isinstance(type_, GraphQLNonNull):
        return _sample(type_.of_type, full=full)
    if isinstance(type_, GraphQLList):
        return [_sample(type_.of_type, full=full)]
    if isinstance(type_, GraphQLScalarType):
        return SAMPLES[type_.name]
    if isinstance(type_, GraphQLEnumType):
        return next(iter(type_.values))
    assert isinstance(type_, GraphQLInputObjectType)
    return {
        name: _sample(field.type, full=full)
        for name, field in type_.fields.items()
        if full or isinstance(field.type, GraphQLNonNull)
    }


@contextmanager
def strawberrys_own_conversion(schema: strawberry.Schema) -> Iterator[None]:
    kept = {id(d): d.from_input for d in _inputs(schema)}
    for definition in _inputs(schema):
        definition.from_input = None
    try:
        yield
    finally:
        for definition in _inputs(schema):
            definition.from_input = kept[id(definition)]


def _convert(definition: StrawberryObjectDefinition, value: object) -> Any:
    converter = SCHEMA.schema_converter
    return convert_argument(value, definition.origin, converter.scalar_registry, SCHEMA.config)


def test_every_input_type_of_the_schema_has_a_compiled_conversion() -> None:
    assert len(INPUTS) > 40
    assert [d.name for d in INPUTS if d.from_input is None] == []


@pytest.mark.parametrize("full", [True, False], ids=["every field", "required fields only"])
@pytest.mark.parametrize("definition", INPUTS, ids=lambda d: d.name)
def test_the_compiled_conversion_builds_what_strawberry_builds(
    definition: StrawberryObjectDefinition, full: bool
) -> None:
    graphql_type = SCHEMA._schema.get_type(definition.name)
    assert isinstance(graphql_type, GraphQLInputObjectType)
    value = coerce_input_value(_sample(graphql_type, full=full), graphql_type)

    compiled = _convert(definition, value)
    with strawberrys_own_conversion(SCHEMA):
        expected = _convert(definition, value)

    assert type(compiled) is type(expected)
    assert compiled == expected


@strawberry.input
class Tags:
    names: list[str]
    max_count: int | None = None


@strawberry.type
class TagQuery:
    @strawberry.field
    def count(self, tags: Tags) -> int:
        return len(tags.names)


def test_a_list_of_scalars_is_copied_so_a_shared_default_cannot_leak_between_requests() -> None:
    schema = strawberry.Schema(query=TagQuery)
    compile_inputs(schema)
    sent = {"names": ["a", "b"]}
    built = convert_argument(sent, Tags, schema.schema_converter.scalar_registry, schema.config)

    assert built.names == ["a", "b"]
    assert built.names is not sent["names"]


def test_an_input_type_of_schemas_naming_fields_differently_is_built_in_each_naming() -> None:
    camel = strawberry.Schema(query=TagQuery)
    snake = strawberry.Schema(query=TagQuery, config=StrawberryConfig(auto_camel_case=False))
    compile_inputs(camel)
    compile_inputs(snake)

    def built(schema: strawberry.Schema, value: dict[str, object]) -> Tags:
        registry = schema.schema_converter.scalar_registry
        tags = convert_argument(value, Tags, registry, schema.config)
        assert isinstance(tags, Tags)
        return tags

    assert built(camel, {"names": [], "maxCount": 2}).max_count == 2
    assert built(snake, {"names": [], "max_count": 3}).max_count == 3
