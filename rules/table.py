"""Apply a compiled rule set to every open study at once, column-wise (activation, preview).

Same semantics as `rules.one.apply_one`, step for step; see that module for the plain version.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from domain.enums import PatientClass, Subspecialty
from rules import signatures
from rules.compiled import CompiledRule, CompiledRuleSet, DefaultTurnaround
from rules.effects import WEIGHT_NAMES, RuleSetEffect, Weights
from rules.facts import BoolArray, FactsTable, IntArray, TextColumn
from rules.ir import attributes_of
from rules.model import (
    Action,
    EscalatePriority,
    HoldWaitingBound,
    RequireSubspecialty,
    SetPriority,
    SetTurnaround,
    SetWeights,
)
from rules.signatures import Signatures
from rules.vector import Cache, evaluate_table
from rules.vocabulary import PRIORITY_RANK

_SUBSPECIALTIES = tuple(Subspecialty)
_CLASSES = tuple(PatientClass)
_EFFECTIVE = frozenset({"priority", "minutes_until_due"})


@dataclass
class Columns:
    """The per-study outcome as arrays (positions follow the FactsTable's rows)."""

    study_ids: IntArray
    ordered_rank: IntArray
    base_rank: IntArray
    final_rank: IntArray
    turnaround: IntArray  # -1: due time unchanged
    ordered_until_due: IntArray
    until_due: IntArray
    subspecialty: IntArray  # index into tuple(Subspecialty)
    allowed_radiologists: Signatures[frozenset[int] | None]
    excluded_radiologists: Signatures[frozenset[int]]
    allowed_sites: Signatures[frozenset[str] | None]
    excluded_sites: Signatures[frozenset[str]]
    caps: Signatures[frozenset[str]]
    marks: Signatures[frozenset[str]]
    winners: dict[str, IntArray]  # field -> winning rule index, -1 none
    fired: list[list[BoolArray | None]]  # per compiled rule, per action
    any_fired: BoolArray = field(default_factory=lambda: np.zeros(0, dtype=np.bool_))


def _lut(column: TextColumn, values: tuple[str, ...]) -> IntArray:
    return np.asarray([values.index(c) for c in column.categories] + [-1], dtype=np.int64)


def _first_wins(
    rules: tuple[CompiledRule, ...],
    masks: dict[int, BoolArray],
    value_of: dict[int, int],
    start: IntArray,
) -> tuple[IntArray, IntArray]:
    """Walk rules in precedence order; each study takes the first matching rule's value."""
    values, src = start.copy(), np.full(start.shape[0], -1, dtype=np.int64)
    unset = np.ones(start.shape[0], dtype=np.bool_)
    for c in rules:
        if c.index not in value_of:
            continue
        take = masks[c.index] & unset
        values[take] = value_of[c.index]
        src[take] = c.index
        unset &= ~masks[c.index]
    return values, src


def _values(
    rules: tuple[CompiledRule, ...],
    kind: type[Action],
    attr: str,
    encode: tuple[object, ...] | None = None,
) -> dict[int, int]:
    out: dict[int, int] = {}
    for c in rules:
        for a in c.rule.actions:
            if isinstance(a, kind) and c.index not in out:
                value = getattr(a, attr)
                out[c.index] = encode.index(value) if encode is not None else int(value)
    return out


def evaluate_columns(
    compiled: CompiledRuleSet,
    table: FactsTable,
    *,
    default_turnaround: DefaultTurnaround | None = None,
) -> tuple[Columns, RuleSetEffect]:
    """Run both phases over the whole table and return the outcome columns."""
    rules, n = compiled.rules, len(table)
    cache1: Cache = {}
    m1 = {c.index: evaluate_table(c.ir, table, cache1) for c in rules if c.has_urgency}
    ordered_rank = _lut(table.text("priority"), tuple(p.value for p in PRIORITY_RANK))[
        table.text("priority").codes
    ]
    base_rank, p_src = _first_wins(
        rules, m1, _values(rules, SetPriority, "priority", PRIORITY_RANK), ordered_rank
    )
    turnaround, t_src = _first_wins(
        rules, m1, _values(rules, SetTurnaround, "minutes"), np.full(n, -1, dtype=np.int64)
    )
    if default_turnaround is not None:
        grid = np.full((len(PRIORITY_RANK), len(_CLASSES) + 1), -1, dtype=np.int64)
        for (p, klass_), minutes in default_turnaround.items():
            grid[PRIORITY_RANK.index(p), _CLASSES.index(klass_)] = minutes
        klass = _lut(table.text("patient_class"), tuple(k.value for k in _CLASSES))[
            table.text("patient_class").codes
        ]
        use = (t_src < 0) & (base_rank != ordered_rank)
        turnaround = np.where(use, grid[base_rank, klass], turnaround)
    ordered_until_due = table.number("minutes_until_due").astype(np.int64)
    waiting = table.number("minutes_waiting")
    until_due = np.where(turnaround >= 0, turnaround - waiting, ordered_until_due)
    fired: list[list[BoolArray | None]] = []
    final_rank = base_rank.copy()
    for c in rules:
        row: list[BoolArray | None] = []
        for a in c.rule.actions:
            if isinstance(a, EscalatePriority):
                hit = m1[c.index] & _threshold(a, until_due, waiting, n)
                target = (
                    np.full(n, PRIORITY_RANK.index(a.to))
                    if a.to is not None
                    else np.minimum(base_rank + 1, len(PRIORITY_RANK) - 1)
                )
                final_rank = np.where(hit, np.maximum(final_rank, target), final_rank)
                row.append(hit)
            else:
                row.append(m1[c.index] if isinstance(a, (SetPriority, SetTurnaround)) else None)
        fired.append(row)
    effective = table.replace(
        priority=TextColumn(final_rank.astype(np.int32), tuple(p.value for p in PRIORITY_RANK)),
        minutes_until_due=until_due,
    )
    cache2: Cache = {k: v for k, v in cache1.items() if not attributes_of(k) & _EFFECTIVE}
    m2 = {
        c.index: (
            m1[c.index]
            if c.has_urgency and not c.reads_effective
            else evaluate_table(c.ir, effective, cache2)
        )
        for c in rules
        if c.has_routing
    }
    subspecialty, s_src = _first_wins(
        rules,
        m2,
        _values(rules, RequireSubspecialty, "subspecialty", _SUBSPECIALTIES),
        _lut(table.text("subspecialty"), tuple(s.value for s in _SUBSPECIALTIES))[
            table.text("subspecialty").codes
        ],
    )
    for c, row in zip(rules, fired, strict=True):
        for k in range(len(c.rule.actions)):
            if row[k] is None:
                row[k] = m2[c.index]
    any_fired = np.zeros(n, dtype=np.bool_)
    for row in fired:
        for mask in row:
            if mask is not None:
                any_fired |= mask
    columns = Columns(
        study_ids=table.study_ids,
        ordered_rank=ordered_rank,
        base_rank=base_rank,
        final_rank=final_rank,
        turnaround=turnaround,
        ordered_until_due=ordered_until_due,
        until_due=until_due,
        subspecialty=subspecialty,
        allowed_radiologists=signatures.allowed_radiologists(rules, m2, n),
        excluded_radiologists=signatures.excluded_radiologists(rules, m2, n),
        allowed_sites=signatures.allowed_sites(rules, m2, n),
        excluded_sites=signatures.excluded_sites(rules, m2, n),
        caps=signatures.caps(rules, m2, n),
        marks=signatures.marks(rules, m2, n),
        winners={"priority": p_src, "turnaround": t_src, "subspecialty": s_src},
        fired=fired,
        any_fired=any_fired,
    )
    return columns, _rule_set_effect(compiled, m2)


def _threshold(a: EscalatePriority, until_due: IntArray, waiting: object, n: int) -> BoolArray:
    hit = np.zeros(n, dtype=np.bool_)
    if a.due_within_minutes is not None:
        hit |= until_due <= a.due_within_minutes
    if a.waiting_over_minutes is not None:
        hit |= np.asarray(waiting) > a.waiting_over_minutes
    return hit


def _rule_set_effect(compiled: CompiledRuleSet, m2: dict[int, BoolArray]) -> RuleSetEffect:
    """Weights: per weight, the highest-precedence rule that fired for at least one study; the
    waiting bound: the highest-precedence such rule that holds it."""
    weights: dict[str, float] = {}
    sources: dict[str, str] = {}
    bound: HoldWaitingBound | None = None
    bound_source: str | None = None
    for c in compiled.rules:
        if c.index not in m2 or not bool(m2[c.index].any()):
            continue
        for a in c.rule.actions:
            if isinstance(a, SetWeights):
                for w in WEIGHT_NAMES:
                    value = getattr(a, w)
                    if value is not None and w not in weights:
                        weights[w] = value
                        sources[w] = c.rule.name
            elif isinstance(a, HoldWaitingBound) and bound is None:
                bound, bound_source = a, c.rule.name
    return RuleSetEffect(
        Weights(**weights),
        sources,
        compiled.caps,
        compiled.cap_bends,
        waiting_margin=None if bound is None else float(bound.margin_minutes),
        waiting_source=bound_source,
    )
