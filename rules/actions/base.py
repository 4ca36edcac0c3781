"""What a rule action is: one object that serialization, validation, explanation, both
evaluators, the bridge to the balancer's snapshot and the GraphQL schema all read, found in
`rules.actions.KINDS`.

An action kind names its stored `kind`, its dataclass, its fields (how each is read from
stored data, and how the API shows it), its phase (`urgency` actions decide priority and due
time from the study as ordered, `routing` actions decide who may read it afterwards, see
docs/rules.md), its `problems` (save-time validation) and its `change` (the explanation on
`exam.appliedRules`). The ten actions radflow started with keep their precedence semantics in
the evaluators (first match wins, sets intersect or unite); a new routing action that tags the
studies it matches declares a `mark`: both evaluators put the mark on each matched study's
Effect, and `snapshot` says what the mark changes on the balancer's study.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Set
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from rules.effects import Change
from rules.errors import ErrorCode

if TYPE_CHECKING:
    from rules.compiled import CompiledRule

Problem = tuple[str, ErrorCode, str]  # field, code, message


class FieldType(StrEnum):
    """How an action field's value is typed, stored and shown."""

    PRIORITY = "PRIORITY"
    SUBSPECIALTY = "SUBSPECIALTY"
    INT = "INT"
    FLOAT = "FLOAT"
    BOOL = "BOOL"
    RADIOLOGISTS = "RADIOLOGISTS"  # stored as ids, shown as radiologist codes
    SITES = "SITES"


@dataclass(frozen=True, slots=True)
class ActionField:
    """One field of an action: its stored name, type, how plain data is read, and the API's
    description (shared fields, such as `radiologist_ids`, are one object used by each kind)."""

    name: str
    type: FieldType
    read: Callable[[Any], Any]
    description: str | None = None


@dataclass(frozen=True, slots=True)
class Context:
    """What validation may check values against (None: not checked)."""

    radiologists: Set[int] | None = None
    sites: Set[str] | None = None
    weights: Set[str] | None = None


class ActionKind(ABC):
    """A rule action kind; subclass and give an instance as `KIND` (or list in `KINDS`)."""

    kind: ClassVar[str]
    action: ClassVar[type]
    fields: ClassVar[tuple[ActionField, ...]] = ()
    phase: ClassVar[Literal["urgency", "routing"]] = "routing"
    position: ClassVar[int]
    single_valued: ClassVar[bool] = False  # at most one per rule
    mark: ClassVar[str | None] = None
    description: ClassVar[str] = ""

    def problems(self, action: Any, context: Context) -> Iterator[Problem]:
        """Why the action cannot be saved (field, code, message); none by default."""
        return iter(())

    @abstractmethod
    def change(
        self,
        action: Any,
        rule: CompiledRule,
        base_rank: int,
        winners: Mapping[str, int | None],
        names: Mapping[int, str],
    ) -> Change:
        """What the fired action changed for a study."""
        raise NotImplementedError

    def fields_of(self, raw: Mapping[str, Any]) -> tuple[ActionField, ...]:
        """The fields stored data of this kind is read by (its declared ones)."""
        return self.fields

    def to_data(self, action: Any) -> dict[str, object]:
        """The action's fields as plain data (without `kind`)."""
        return {f.name: _plain(getattr(action, f.name)) for f in self.fields}

    def from_data(self, values: dict[str, Any]) -> Any:
        """The action from values already read by its fields."""
        return self.action(**values)

    def snapshot(self, study: Any) -> dict[str, object]:
        """For a marked study, the fields of the balancer's study the mark sets (by name)."""
        return {}


def _plain(value: object) -> object:
    if isinstance(value, StrEnum):
        return value.value
    if isinstance(value, frozenset):
        return sorted(value)
    return value


def finite_number(value: object) -> bool:
    """A real, finite number (True and False are ints to Python, not numbers here)."""
    return not isinstance(value, bool) and isinstance(value, int | float) and math.isfinite(value)


def boolean(value: object) -> bool:
    """A real boolean: bool("false") is True, so accept nothing else."""
    if not isinstance(value, bool):
        raise TypeError(f"expected true or false, got {value!r}")
    return value
