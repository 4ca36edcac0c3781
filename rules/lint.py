"""Non-blocking warnings about a rule set, computed against the open studies."""

from __future__ import annotations

from collections.abc import Callable
from itertools import combinations

import numpy as np

from rules.effects import Effect
from rules.errors import RuleWarning, WarningCode
from rules.evaluation import Evaluation
from rules.facts import BoolArray, FactsTable
from rules.model import (
    HoldWaitingBound,
    RequireSubspecialty,
    SetPriority,
    SetTurnaround,
    SetWeights,
)
from rules.vector import Cache, evaluate_table

MAX_STUDY_IDS = 20  # a warning names a sample of the studies, not thousands

_SINGLE_VALUED = {
    SetPriority: "priority",
    SetTurnaround: "turnaround target",
    RequireSubspecialty: "required subspecialty",
}


def _ids(evaluation: Evaluation, mask: BoolArray) -> tuple[int, ...]:
    rows = np.flatnonzero(mask)[:MAX_STUDY_IDS]
    return tuple(int(s) for s in evaluation.columns.study_ids[rows])


def unmatched_rules(evaluation: Evaluation, table: FactsTable) -> list[RuleWarning]:
    """Enabled rules whose condition holds for no open study."""
    out: list[RuleWarning] = []
    cache: Cache = {}
    for rule, row in zip(evaluation.compiled.rules, evaluation.columns.fired, strict=True):
        matched = bool(evaluate_table(rule.ir, table, cache).any())
        matched = matched or any(m is not None and bool(m.any()) for m in row)
        if not matched:
            out.append(
                RuleWarning(
                    WarningCode.MATCHES_NO_STUDY,
                    f"rule {rule.rule.name!r} matches no open study",
                    (rule.index,),
                    (rule.rule.name,),
                )
            )
    return out


def contradictions(evaluation: Evaluation) -> list[RuleWarning]:
    """Rules at the same order that set one field to different values for the same studies."""
    out: list[RuleWarning] = []
    fired = evaluation.columns.fired
    entries = [
        (rule, action, mask)
        for rule, row in zip(evaluation.compiled.rules, fired, strict=True)
        for action, mask in zip(rule.rule.actions, row, strict=True)
        if mask is not None
    ]
    for (r1, a1, m1), (r2, a2, m2) in combinations(entries, 2):
        if r1.index == r2.index or r1.rule.order != r2.rule.order or type(a1) is not type(a2):
            continue
        if isinstance(a1, SetWeights) and isinstance(a2, SetWeights):
            clash = [w for w, v in a1.weights.items() if w in a2.weights and a2.weights[w] != v]
            if clash and m1.any() and m2.any():
                out.append(
                    _clash(
                        r1.index,
                        r1.rule.name,
                        r2.index,
                        r2.rule.name,
                        f"weight {', '.join(clash)}",
                        (),
                    )
                )
            continue
        if isinstance(a1, HoldWaitingBound) and isinstance(a2, HoldWaitingBound):
            if a1 != a2 and m1.any() and m2.any():  # department-wide: any study of each
                out.append(
                    _clash(r1.index, r1.rule.name, r2.index, r2.rule.name, "waiting margins", ())
                )
            continue
        what = _SINGLE_VALUED.get(type(a1))
        if what is None or a1 == a2:
            continue
        overlap = m1 & m2
        if overlap.any():
            out.append(
                _clash(
                    r1.index, r1.rule.name, r2.index, r2.rule.name, what, _ids(evaluation, overlap)
                )
            )
    empty = [
        i
        for i, v in enumerate(evaluation.columns.allowed_radiologists.values)
        if v is not None and not v
    ]
    if empty:
        mask = np.isin(evaluation.columns.allowed_radiologists.ids, empty)
        out.append(
            RuleWarning(
                WarningCode.CONTRADICTION,
                "radiologist restrictions leave no radiologist allowed for "
                f"{int(mask.sum())} studies",
                study_ids=_ids(evaluation, mask),
            )
        )
    return out


def _clash(i1: int, n1: str, i2: int, n2: str, what: str, ids: tuple[int, ...]) -> RuleWarning:
    message = f"rules {n1!r} and {n2!r} have the same order and set different {what}"
    if ids:
        message += " for the same studies"
    return RuleWarning(WarningCode.CONTRADICTION, message, (i1, i2), (n1, n2), ids)


def unassignable(
    evaluation: Evaluation, is_assignable: Callable[[Effect], bool]
) -> list[RuleWarning]:
    """Studies the caller's eligibility check (the balancer's) finds nobody on shift for."""
    rows = [
        i for i in range(len(evaluation)) if not is_assignable(evaluation.effect(i, explain=False))
    ]
    if not rows:
        return []
    mask = np.zeros(len(evaluation), dtype=np.bool_)
    mask[rows] = True
    return [
        RuleWarning(
            WarningCode.NO_ELIGIBLE_RADIOLOGIST,
            f"{len(rows)} studies would have no eligible radiologist on shift",
            study_ids=_ids(evaluation, mask),
        )
    ]
