"""The table of error codes per mutation in docs/api.md, read from the code.

For each mutation: the members of its result union (from the schema), and the codes its
command can raise, found by walking the resolver and every radflow function it calls: each
`IssueCode.X` (a `FieldError.code`), each lifecycle `Step.X` taken (whose guards give the
`PreconditionFailed.condition`s). `python -m api.contract` prints the table; a test keeps
docs/api.md equal to it.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from collections.abc import Callable, Iterator
from types import FunctionType, ModuleType
from typing import Any, cast

from graphql import GraphQLObjectType, GraphQLSchema, GraphQLUnionType, get_named_type

from domain.errors import IssueCode
from domain.lifecycle import TRANSITIONS, Step

# Where a command's codes can come from; the walk stays inside these packages.
_WALKED = (
    "api.",
    "domain.services",
    "domain.reporting",
    "application.retention",
    "application.purges",
    "interfaces.dicom.retention",
    "interfaces.dicom.reconcile",
)
_CHECKS_TEXT = (IssueCode.REQUIRED, IssueCode.TOO_LONG, IssueCode.CONTROL_CHARACTERS)


def error_table(schema: GraphQLSchema) -> str:
    """The Markdown table: one row per mutation, in schema order."""
    mutation = schema.mutation_type
    assert mutation is not None
    rows = ["| mutation | typed errors | `condition` | field codes |", "|---|---|---|---|"]
    for name, field in mutation.fields.items():
        result = get_named_type(field.type)
        members = result.types if isinstance(result, GraphQLUnionType) else [result]
        errors = [
            m.name
            for m in members
            if isinstance(m, GraphQLObjectType) and any(i.name == "Error" for i in m.interfaces)
        ]
        issues, steps = _codes(_resolver(field))
        conditions = sorted(
            {g.code.value for t in TRANSITIONS if t.step in steps for g in t.guards}
        )
        rows.append(
            f"| `{name}` | {', '.join(errors) or '-'} | {_list(conditions)} "
            f"| {_list(sorted(i.value for i in issues))} |"
        )
    return "\n".join(rows) + "\n"


def _list(codes: list[str]) -> str:
    return ", ".join(f"`{c}`" for c in codes) or "-"


def _resolver(field: Any) -> Callable[..., Any]:
    """The function behind a field: strawberry's resolver, not graphql-core's wrapper."""
    definition = field.extensions.get("strawberry-definition")
    if definition is not None and definition.base_resolver is not None:
        return cast(Callable[..., Any], definition.base_resolver.wrapped_func)
    return cast(Callable[..., Any], field.resolve)


def _codes(start: Callable[..., Any]) -> tuple[set[IssueCode], set[Step]]:
    issues: set[IssueCode] = set()
    steps: set[Step] = set()
    seen: set[Callable[..., Any]] = set()
    pending = [start]
    while pending:
        function = pending.pop()
        if function in seen:
            continue
        seen.add(function)
        tree = _tree(function)
        if tree is None:
            continue
        names = function.__globals__
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Attribute)
                and isinstance(node.value.value, ast.Name)
            ):  # module.IssueCode.X
                module = names.get(node.value.value.id)
                if getattr(module, node.value.attr, None) is IssueCode:
                    issues.add(IssueCode[node.attr])
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
                owner = names.get(node.value.id)
                if owner is IssueCode:
                    issues.add(IssueCode[node.attr])
                elif owner is Step:
                    steps.add(Step[node.attr])
                elif node.attr == "text" and node.value.id == "checks":
                    issues.update(_CHECKS_TEXT)
                elif isinstance(owner, ModuleType):
                    pending.extend(_walkable(getattr(owner, node.attr, None)))
            elif isinstance(node, ast.Name):
                pending.extend(_walkable(names.get(node.id)))
    return issues, steps


def _walkable(value: object) -> Iterator[Callable[..., Any]]:
    if isinstance(value, FunctionType) and value.__module__.startswith(_WALKED):
        yield value


def _tree(function: Callable[..., Any]) -> ast.AST | None:
    try:
        return ast.parse(textwrap.dedent(inspect.getsource(function)))
    except (OSError, TypeError, SyntaxError):
        return None


if __name__ == "__main__":
    from api.schema import build_schema
    from application.settings import Settings

    print(error_table(build_schema(Settings())._schema), end="")
