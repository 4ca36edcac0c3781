"""Set-valued outcomes (allowed readers, exclusions, cap groups) computed once per combination.

Thousands of studies share a handful of combinations of firing rules. Each study gets the id
of its combination (the bit pattern of which set-valued rules matched it), and the set algebra
runs once per distinct combination instead of once per study.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

import numpy as np

from rules.actions import MARKS
from rules.compiled import CompiledRule
from rules.facts import BoolArray, IntArray
from rules.model import (
    CapPerRadiologist,
    ExcludeRadiologists,
    ExcludeSites,
    RestrictRadiologists,
    RestrictSites,
)

T = TypeVar("T")  # the members of a set
V = TypeVar("V")  # what a combination's sets fold to


@dataclass(frozen=True)
class Signatures(Generic[V]):
    """Per study, an index into `values`."""

    ids: IntArray
    values: tuple[V, ...]

    def at(self, row: int) -> V:
        """The value for the study at `row`."""
        return self.values[int(self.ids[row])]


def _intersect(sets: list[frozenset[T]]) -> frozenset[T] | None:
    if not sets:
        return None
    out = sets[0]
    for s in sets[1:]:
        out = out & s
    return out


def _union(sets: list[frozenset[T]]) -> frozenset[T]:
    return frozenset[T]().union(*sets)


Rules = tuple[CompiledRule, ...]
Masks = dict[int, BoolArray]


def _radiologists(
    kind: type[RestrictRadiologists] | type[ExcludeRadiologists],
) -> Callable[[CompiledRule], list[frozenset[int]]]:
    return lambda c: [frozenset(a.radiologist_ids) for a in c.rule.actions if isinstance(a, kind)]


def _sites(
    kind: type[RestrictSites] | type[ExcludeSites],
) -> Callable[[CompiledRule], list[frozenset[str]]]:
    return lambda c: [frozenset(a.sites) for a in c.rule.actions if isinstance(a, kind)]


def _marks(c: CompiledRule) -> list[frozenset[str]]:
    return [frozenset((MARKS[type(a)],)) for a in c.rule.actions if type(a) in MARKS]


def _cap_group(c: CompiledRule) -> list[frozenset[str]]:
    # A rule's cap group is named after the rule, whatever number of cap actions it has.
    if any(isinstance(a, CapPerRadiologist) for a in c.rule.actions):
        return [frozenset((c.rule.name,))]
    return []


def allowed_radiologists(rules: Rules, masks: Masks, n: int) -> Signatures[frozenset[int] | None]:
    """Per study, the readers every restricting rule allows (None: no rule restricts)."""
    return combine(rules, masks, _radiologists(RestrictRadiologists), _intersect, n)


def excluded_radiologists(rules: Rules, masks: Masks, n: int) -> Signatures[frozenset[int]]:
    """Per study, the readers any rule excludes."""
    return combine(rules, masks, _radiologists(ExcludeRadiologists), _union, n)


def allowed_sites(rules: Rules, masks: Masks, n: int) -> Signatures[frozenset[str] | None]:
    """Per study, the sites every restricting rule allows (None: no rule restricts)."""
    return combine(rules, masks, _sites(RestrictSites), _intersect, n)


def excluded_sites(rules: Rules, masks: Masks, n: int) -> Signatures[frozenset[str]]:
    """Per study, the sites any rule excludes."""
    return combine(rules, masks, _sites(ExcludeSites), _union, n)


def caps(rules: Rules, masks: Masks, n: int) -> Signatures[frozenset[str]]:
    """Per study, the cap groups it belongs to."""
    return combine(rules, masks, _cap_group, _union, n)


def marks(rules: Rules, masks: Masks, n: int) -> Signatures[frozenset[str]]:
    """Per study, the marks of the routing actions that matched it."""
    return combine(rules, masks, _marks, _union, n)


def combine(
    rules: Rules,
    masks: Masks,
    extract: Callable[[CompiledRule], list[frozenset[T]]],
    fold: Callable[[list[frozenset[T]]], V],
    n: int,
) -> Signatures[V]:
    """Fold the sets `extract` finds in each rule per study, once per distinct combination."""
    contributing: list[tuple[list[frozenset[T]], BoolArray]] = []
    for c in rules:
        sets = extract(c)
        if sets:
            contributing.append((sets, masks[c.index]))
    if not contributing:
        return Signatures(np.zeros(n, dtype=np.int64), (fold([]),))
    matrix = np.stack([mask for _, mask in contributing])
    packed = np.ascontiguousarray(np.packbits(matrix, axis=0).T)
    keys = packed.view(np.dtype((np.void, packed.shape[1]))).ravel()
    unique, inverse = np.unique(keys, return_inverse=True)
    values: list[V] = []
    for key in unique:
        bits = np.unpackbits(np.frombuffer(key.tobytes(), dtype=np.uint8))[: len(contributing)]
        sets = [s for j in np.flatnonzero(bits) for s in contributing[j][0]]
        values.append(fold(sets))
    return Signatures(inverse.astype(np.int64).ravel(), tuple(values))
