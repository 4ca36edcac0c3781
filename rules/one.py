"""Evaluate a compiled rule set for one study: the path taken when a single study changes.

This module is also the plain statement of the precedence semantics; `rules.table` computes
the same thing column-wise, and the tests hold the two to exact agreement.
"""

from __future__ import annotations

import dataclasses
from typing import TypeVar

from rules.actions import MARKS
from rules.compiled import CompiledRuleSet, DefaultTurnaround
from rules.effects import AppliedRule, Effect
from rules.explain import applied_rule, escalation_target
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
)
from rules.vocabulary import PRIORITY_RANK, StudyFacts

_URGENT_FIRST = (SetPriority, SetTurnaround)
_A = TypeVar("_A")


def apply_one(
    compiled: CompiledRuleSet,
    facts: StudyFacts,
    *,
    default_turnaround: DefaultTurnaround | None = None,
) -> Effect:
    """The Effect of the rule set on one study (same result as the column-wise `apply`)."""
    rules = compiled.rules
    names = {c.index: c.rule.name for c in rules}
    # Phase 1, urgency: conditions see the study as ordered.
    matched1 = {c.index: c.predicate(facts) for c in rules if c.has_urgency}
    priority_src = _first(compiled, matched1, SetPriority)
    turnaround_src = _first(compiled, matched1, SetTurnaround)
    base = facts.priority
    if priority_src is not None:
        base = _action(compiled, priority_src, SetPriority).priority
    turnaround: int | None = None
    if turnaround_src is not None:
        turnaround = _action(compiled, turnaround_src, SetTurnaround).minutes
    elif base != facts.priority and default_turnaround is not None:
        turnaround = default_turnaround.get((base, facts.patient_class))
    until_due = (
        facts.minutes_until_due if turnaround is None else turnaround - facts.minutes_waiting
    )
    base_rank = PRIORITY_RANK.index(base)
    final_rank = base_rank
    fired: dict[int, list[bool]] = {}
    for c in rules:
        hits = [False] * len(c.rule.actions)
        for k, a in enumerate(c.rule.actions):
            if isinstance(a, EscalatePriority) and matched1[c.index] and _due(a, until_due, facts):
                hits[k] = True
                final_rank = max(final_rank, escalation_target(a, base_rank))
            elif isinstance(a, _URGENT_FIRST):
                hits[k] = matched1[c.index]
        fired[c.index] = hits
    # Phase 2, routing: conditions see the effective priority and due time.
    effective = dataclasses.replace(
        facts, priority=PRIORITY_RANK[final_rank], minutes_until_due=until_due
    )
    matched2 = {
        c.index: (
            matched1[c.index] if c.has_urgency and not c.reads_effective else c.predicate(effective)
        )
        for c in rules
        if c.has_routing
    }
    subspecialty_src = _first(compiled, matched2, RequireSubspecialty)
    allowed_rad: frozenset[int] | None = None
    allowed_site: frozenset[str] | None = None
    excluded_rad: set[int] = set()
    excluded_site: set[str] = set()
    caps: set[str] = set()
    marks: set[str] = set()
    for c in rules:
        if not c.has_routing or not matched2[c.index]:
            continue
        for k, a in enumerate(c.rule.actions):
            if isinstance(a, RestrictRadiologists):
                allowed_rad = (
                    a.radiologist_ids if allowed_rad is None else allowed_rad & a.radiologist_ids
                )
            elif isinstance(a, ExcludeRadiologists):
                excluded_rad |= a.radiologist_ids
            elif isinstance(a, RestrictSites):
                allowed_site = a.sites if allowed_site is None else allowed_site & a.sites
            elif isinstance(a, ExcludeSites):
                excluded_site |= a.sites
            elif isinstance(a, CapPerRadiologist):
                caps.add(c.rule.name)
            elif type(a) in MARKS:
                marks.add(MARKS[type(a)])
            if not isinstance(a, (*_URGENT_FIRST, EscalatePriority)):
                fired[c.index][k] = True
    subspecialty = (
        facts.subspecialty
        if subspecialty_src is None
        else _action(compiled, subspecialty_src, RequireSubspecialty).subspecialty
    )
    winners = {
        "priority": priority_src,
        "turnaround": turnaround_src,
        "subspecialty": subspecialty_src,
    }
    applied: list[AppliedRule] = []
    for c in rules:
        record = applied_rule(c, fired[c.index], base_rank, winners, names)
        if record is not None:
            applied.append(record)
    return Effect(
        study_id=facts.study_id,
        priority=PRIORITY_RANK[final_rank],
        ordered_priority=facts.priority,
        turnaround_minutes=turnaround,
        minutes_until_due=until_due,
        due_shift_minutes=until_due - facts.minutes_until_due,
        required_subspecialty=subspecialty,
        allowed_radiologists=allowed_rad,
        excluded_radiologists=frozenset(excluded_rad),
        allowed_sites=allowed_site,
        excluded_sites=frozenset(excluded_site),
        cap_groups=frozenset(caps),
        applied_rules=tuple(applied),
        subspecialty_if_on_shift=subspecialty_src is not None
        and _action(compiled, subspecialty_src, RequireSubspecialty).only_if_on_shift,
        marks=frozenset(marks),
    )


def _due(action: EscalatePriority, until_due: int, facts: StudyFacts) -> bool:
    """Whether an escalation's threshold is reached (due soon enough or waited long enough)."""
    within, over = action.due_within_minutes, action.waiting_over_minutes
    return (within is not None and until_due <= within) or (
        over is not None and facts.minutes_waiting > over
    )


def _first(compiled: CompiledRuleSet, matched: dict[int, bool], kind: type[Action]) -> int | None:
    """The index of the highest-precedence matched rule that has an action of `kind`."""
    for c in compiled.rules:
        if matched.get(c.index) and any(isinstance(a, kind) for a in c.rule.actions):
            return c.index
    return None


def _action(compiled: CompiledRuleSet, index: int, kind: type[_A]) -> _A:
    for c in compiled.rules:
        if c.index == index:
            for a in c.rule.actions:
                if isinstance(a, kind):
                    return a
    raise LookupError(index)
