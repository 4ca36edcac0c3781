"""What a query asked for, so list resolvers fetch related rows only when selected."""

from __future__ import annotations

from collections.abc import Iterable

from strawberry.types.nodes import FragmentSpread, InlineFragment, SelectedField, Selection

from api.context import Info


def _children(selections: Iterable[Selection], name: str) -> list[Selection]:
    found: list[Selection] = []
    for selection in selections:
        if isinstance(selection, SelectedField):
            if selection.name == name:
                found.extend(selection.selections)
        elif isinstance(selection, (InlineFragment, FragmentSpread)):
            found.extend(_children(selection.selections, name))
    return found


def _names(selections: Iterable[Selection]) -> set[str]:
    names: set[str] = set()
    for selection in selections:
        if isinstance(selection, SelectedField):
            names.add(selection.name)
        elif isinstance(selection, (InlineFragment, FragmentSpread)):
            names |= _names(selection.selections)
    return names


def selected_fields(info: Info, *path: str) -> set[str]:
    """Names of the fields selected at `path` below the current field (e.g. "edges", "node")."""
    level: list[Selection] = []
    for field in info.selected_fields:
        level.extend(field.selections)
    for name in path:
        level = _children(level, name)
    return _names(level)
