"""Relay plumbing: global ids, the Node interface, connections with keyset cursors."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Generic, TypeVar

import strawberry

from domain.errors import FieldIssue, IssueCode, ValidationFailed

NodeT = TypeVar("NodeT")


def to_global_id(type_name: str, pk: int) -> str:
    """The opaque Relay id of a row: base64 of "Type:pk"."""
    return base64.b64encode(f"{type_name}:{pk}".encode()).decode()


def parse_global_id(value: str) -> tuple[str, int] | None:
    """(type name, primary key) of a global id, or None when it is not one of ours."""
    try:
        type_name, _, pk = base64.b64decode(value.encode(), validate=True).decode().partition(":")
        number = int(pk)
    except (binascii.Error, UnicodeError, ValueError):
        return None
    if not type_name or number <= 0 or not type_name.isidentifier():
        return None
    return type_name, number


def decode_id(value: str, expected: str, *, field: str) -> int:
    """The primary key behind a global id of type `expected`, or a typed input error."""
    parsed = parse_global_id(value)
    if parsed is None or parsed[0] != expected:
        raise ValidationFailed(
            [
                FieldIssue(
                    field=field, code=IssueCode.INVALID_ID, message=f"not a valid {expected} id"
                )
            ]
        )
    return parsed[1]


@strawberry.interface(description="An object with a globally unique, opaque id.")
class Node:
    id: strawberry.ID


@strawberry.type(description="Where a page of a connection stands.")
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type
class Edge(Generic[NodeT]):
    cursor: str
    node: NodeT


@strawberry.type
class Connection(Generic[NodeT]):
    edges: list[Edge[NodeT]]
    page_info: PageInfo
    total_count: int | None = strawberry.field(
        default=None, description="How many objects match, when it was asked for."
    )


def page_of(
    nodes: list[NodeT],
    cursor_of: Callable[[NodeT], str],
    *,
    more: bool,
    after: str | None,
    total: int | None,
) -> Connection[NodeT]:
    """A connection's page: `nodes` as edges with their cursors, `more` when a next page
    exists (the query read one row past the page), `total` when it was asked for."""
    edges = [Edge(cursor=cursor_of(n), node=n) for n in nodes]
    return Connection(
        edges=edges,
        total_count=total,
        page_info=PageInfo(
            has_next_page=more,
            has_previous_page=after is not None,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
    )
