"""The role matrix, cell by cell: every query and mutation called over HTTP as every role.

A cell the matrix denies answers FORBIDDEN with the matrix's own message; a cell it allows
gets past the matrix (what the domain then says about the dummy input is its business: a
typed error, NotFound, a finer role check on whose shift it is, ...). Subscriptions are
checked over a real WebSocket in tests/live.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from graphql import (
    GraphQLEnumType,
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLScalarType,
    Undefined,
)
from sqlmodel import SQLModel

from api.permissions import MATRIX
from api.schema import build_schema
from application.settings import Settings
from domain.db import Database
from domain.enums import Role
from tests.conftest import Api, serve

ROLES = sorted(r for r in Role if r not in (Role.SYSTEM, Role.ANONYMOUS))
SCALARS = {
    "ID": '"RXhhbTox"',
    "String": '"x"',
    "Int": "1",
    "Float": "1.5",
    "Boolean": "false",
    "DateTime": '"2026-03-02T10:00:00+00:00"',
    "Date": '"2026-03-02"',
    "JSON": "{}",
}
SCHEMA = build_schema(Settings())._schema


def literal(kind: GraphQLInputType) -> str:
    """A valid literal of an input type (required fields only)."""
    if isinstance(kind, GraphQLNonNull):
        return literal(kind.of_type)
    if isinstance(kind, GraphQLList):
        return f"[{literal(kind.of_type)}]"
    if isinstance(kind, GraphQLEnumType):
        return next(iter(kind.values))
    if isinstance(kind, GraphQLInputObjectType):
        fields = [
            f"{name}: {literal(f.type)}"
            for name, f in kind.fields.items()
            if isinstance(f.type, GraphQLNonNull) and f.default_value is Undefined
        ]
        return "{" + ", ".join(fields) + "}"
    assert isinstance(kind, GraphQLScalarType)
    return SCALARS.get(kind.name, '"x"')


def document(operation: str, name: str, field: GraphQLField) -> str:
    args = [
        f"{arg}: {literal(a.type)}"
        for arg, a in field.args.items()
        if isinstance(a.type, GraphQLNonNull)
    ]
    call = f"{name}({', '.join(args)})" if args else name
    return (
        f"{operation} {{ {call} {{ __typename }} }}"
        if _is_object(field)
        else f"{operation} {{ {call} }}"
    )


def _is_object(field: GraphQLField) -> bool:
    kind = field.type
    while isinstance(kind, GraphQLNonNull | GraphQLList):
        kind = kind.of_type
    return not isinstance(kind, GraphQLScalarType | GraphQLEnumType)


CELLS = [
    (operation, name, role)
    for operation, root in (("query", SCHEMA.query_type), ("mutation", SCHEMA.mutation_type))
    if root is not None
    for name in sorted(root.fields)
    for role in ROLES
]


def test_the_matrix_names_every_root_field_and_no_other() -> None:
    fields = {
        f"{root.name}.{name}"
        for root in (SCHEMA.query_type, SCHEMA.mutation_type, SCHEMA.subscription_type)
        if root is not None
        for name in root.fields
    }
    assert fields == set(MATRIX)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def matrix_api(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Api]:
    path: Path = tmp_path_factory.mktemp("matrix") / "radflow.db"
    db = Database(f"sqlite:///{path}")
    assert db.sync_engine is not None
    SQLModel.metadata.create_all(db.sync_engine)
    async with serve(db, balancer=False) as running:
        yield running
    await db.dispose()


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize(
    ("operation", "name", "role"), CELLS, ids=[f"{n}-{r.value}" for _, n, r in CELLS]
)
async def test_each_cell_of_the_matrix(
    matrix_api: Api, operation: str, name: str, role: Role
) -> None:
    root = SCHEMA.query_type if operation == "query" else SCHEMA.mutation_type
    assert root is not None
    body = await matrix_api.graphql(
        document(operation, name, root.fields[name]), actor=(f"user.{role.value}", role.value)
    )
    errors: list[dict[str, Any]] = body.get("errors") or []  # type: ignore[assignment]
    refused = [e for e in errors if e.get("message") == f"role {role.value} may not use {name}"]
    key = f"{root.name}.{name}"
    if role in MATRIX[key]:
        assert not refused, body
    else:
        assert refused and refused[0]["extensions"]["code"] == "FORBIDDEN", body
        assert body.get("data") in (None, {name: None}), body


@pytest.mark.asyncio(loop_scope="module")
async def test_anonymous_callers_are_refused_everything(matrix_api: Api) -> None:
    for operation, root in (("query", SCHEMA.query_type), ("mutation", SCHEMA.mutation_type)):
        assert root is not None
        for name, field in root.fields.items():
            body = await matrix_api.graphql(document(operation, name, field), actor=None)
            errors: list[dict[str, Any]] = body.get("errors") or []  # type: ignore[assignment]
            assert any(e.get("extensions", {}).get("code") == "FORBIDDEN" for e in errors), (
                name,
                body,
            )
