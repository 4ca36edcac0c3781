"""radflow's schema extensions run as one object: each stage's hook must come from one part."""

from __future__ import annotations

from strawberry.extensions import SchemaExtension
from strawberry.extensions.base_extension import HOOK_METHODS

from api.schema import RequestExtensions


def _hooks_of(part: type) -> set[str]:
    """The hooks `part` (or a class it extends) defines, strawberry's defaults aside."""
    return {
        hook
        for hook in (*HOOK_METHODS, "resolve", "get_results")
        for cls in part.__mro__
        if cls is not SchemaExtension and cls is not object and hook in vars(cls)
    }


def test_no_two_parts_of_the_request_extensions_define_the_same_hook() -> None:
    # One part's hook would silently hide another's: both must run, so they must not meet.
    parts = RequestExtensions.__bases__
    seen: dict[str, type] = {}
    for part in parts:
        for hook in _hooks_of(part):
            assert hook not in seen, f"{hook} of {part.__name__} hides {seen[hook].__name__}'s"
            seen[hook] = part
    assert {"on_operation", "on_parse", "on_validate", "on_execute"} <= seen.keys()
