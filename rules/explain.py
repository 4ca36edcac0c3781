"""Turn what fired for one study into AppliedRule records; shared by both evaluators."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rules.compiled import CompiledRule
from rules.effects import WEIGHT_NAMES, AppliedRule, Change
from rules.model import (
    Action,
    CapPerRadiologist,
    EscalatePriority,
    ExcludeRadiologists,
    ExcludeSites,
    RequireSubspecialty,
    RestrictRadiologists,
    RestrictSites,
    SetPriority,
    SetTurnaround,
    SetWeights,
)
from rules.vocabulary import PRIORITY_RANK


def escalation_target(action: EscalatePriority, base_rank: int) -> int:
    """The priority rank an escalation raises to from `base_rank`."""
    if action.to is not None:
        return PRIORITY_RANK.index(action.to)
    return min(base_rank + 1, len(PRIORITY_RANK) - 1)


def _ids(values: frozenset[int] | frozenset[str]) -> str:
    return ",".join(sorted(str(v) for v in values))


def _winner_change(
    field: str, value: str, rule: CompiledRule, winner: int | None, names: Mapping[int, str]
) -> Change:
    if winner == rule.index:
        return Change(field, value)
    return Change(field, value, applied=False, overridden_by=names.get(winner or -1))


def describe(
    action: Action,
    rule: CompiledRule,
    base_rank: int,
    winners: Mapping[str, int | None],
    names: Mapping[int, str],
) -> Change:
    """The Change one fired action made to a study."""
    match action:
        case SetPriority(priority=p):
            return _winner_change("priority", p.value, rule, winners["priority"], names)
        case SetTurnaround(minutes=m):
            return _winner_change("turnaround_minutes", str(m), rule, winners["turnaround"], names)
        case EscalatePriority():
            target = escalation_target(action, base_rank)
            return Change("priority", PRIORITY_RANK[target].value, applied=target > base_rank)
        case RequireSubspecialty(subspecialty=s):
            return _winner_change(
                "required_subspecialty", s.value, rule, winners["subspecialty"], names
            )
        case RestrictRadiologists(radiologist_ids=ids):
            return Change("allowed_radiologists", _ids(ids))
        case ExcludeRadiologists(radiologist_ids=ids):
            return Change("excluded_radiologists", _ids(ids))
        case RestrictSites(sites=sites):
            return Change("allowed_sites", _ids(sites))
        case ExcludeSites(sites=sites):
            return Change("excluded_sites", _ids(sites))
        case CapPerRadiologist(max_open=n):
            return Change("cap_group", f"{rule.rule.name} (max {n} per radiologist)")
        case SetWeights():
            parts = [
                f"{w}={getattr(action, w)}" for w in WEIGHT_NAMES if getattr(action, w) is not None
            ]
            return Change("weights", ",".join(parts))
    raise TypeError(action)


def applied_rule(
    rule: CompiledRule,
    fired: Sequence[bool],
    base_rank: int,
    winners: Mapping[str, int | None],
    names: Mapping[int, str],
) -> AppliedRule | None:
    """The AppliedRule for `rule` given which of its actions fired, or None if none did."""
    changes = tuple(
        describe(a, rule, base_rank, winners, names)
        for a, hit in zip(rule.rule.actions, fired, strict=True)
        if hit
    )
    if not changes:
        return None
    return AppliedRule(rule.index, rule.rule.name, rule.rule.order, changes)
