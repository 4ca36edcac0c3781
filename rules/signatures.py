"""Set-valued outcomes (allowed readers, exclusions, cap groups) computed once per combination.

Thousands of studies share a handful of combinations of firing rules. Each study gets the id
of its combination (the bit pattern of which set-valued rules matched it), and the set algebra
runs once per distinct combination instead of once per study.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

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

SetValue = frozenset[int] | frozenset[str] | None


@dataclass(frozen=True)
class Signatures:
    """Per study, an index into `values`."""

    ids: IntArray
    values: tuple[SetValue, ...]

    def at(self, row: int) -> SetValue:
        """The set for the study at `row`."""
        return self.values[int(self.ids[row])]


def _intersect(sets: list[frozenset[object]]) -> SetValue:
    if not sets:
        return None
    out = sets[0]
    for s in sets[1:]:
        out = out & s
    return out  # type: ignore[return-value]


def _union(sets: list[frozenset[object]]) -> SetValue:
    return frozenset().union(*sets)  # type: ignore[return-value]


def _sets_of(kind: type, attr: str) -> Callable[[CompiledRule], list[frozenset[object]]]:
    return lambda c: [
        frozenset[object](getattr(a, attr)) for a in c.rule.actions if isinstance(a, kind)
    ]


def _marks(c: CompiledRule) -> list[frozenset[object]]:
    return [frozenset[object]((MARKS[type(a)],)) for a in c.rule.actions if type(a) in MARKS]


def _cap_group(c: CompiledRule) -> list[frozenset[object]]:
    # A rule's cap group is named after the rule, whatever number of cap actions it has.
    if any(isinstance(a, CapPerRadiologist) for a in c.rule.actions):
        return [frozenset[object]((c.rule.name,))]
    return []


_KINDS: dict[
    str,
    tuple[
        Callable[[CompiledRule], list[frozenset[object]]],
        Callable[[list[frozenset[object]]], SetValue],
    ],
] = {
    "allowed_radiologists": (_sets_of(RestrictRadiologists, "radiologist_ids"), _intersect),
    "excluded_radiologists": (_sets_of(ExcludeRadiologists, "radiologist_ids"), _union),
    "allowed_sites": (_sets_of(RestrictSites, "sites"), _intersect),
    "excluded_sites": (_sets_of(ExcludeSites, "sites"), _union),
    "caps": (_cap_group, _union),
    "marks": (_marks, _union),
}


def combine(
    rules: tuple[CompiledRule, ...], masks: dict[int, BoolArray], kind: str, n: int
) -> Signatures:
    """Fold the set-valued actions of `kind` per study, once per distinct combination."""
    extract, fold = _KINDS[kind]
    contributing: list[tuple[list[frozenset[object]], BoolArray]] = []
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
    values: list[SetValue] = []
    for key in unique:
        bits = np.unpackbits(np.frombuffer(key.tobytes(), dtype=np.uint8))[: len(contributing)]
        sets = [s for j in np.flatnonzero(bits) for s in contributing[j][0]]
        values.append(fold(sets))
    return Signatures(inverse.astype(np.int64).ravel(), tuple(values))
