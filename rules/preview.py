"""What a draft rule set would change for the open studies, compared with the active one."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rules.effects import Effect
from rules.evaluation import Evaluation
from rules.facts import BoolArray


@dataclass(frozen=True, slots=True)
class StudyChange:
    """One study whose effect differs between the active and the draft rule set."""

    study_id: int
    before: Effect
    after: Effect
    fields: tuple[str, ...]


_SET_FIELDS = (
    "allowed_radiologists",
    "excluded_radiologists",
    "allowed_sites",
    "excluded_sites",
    "caps",
    "marks",
)


def _differs(before: Evaluation, after: Evaluation) -> BoolArray:
    a, b = before.columns, after.columns
    mask = (
        (a.final_rank != b.final_rank)
        | (a.until_due != b.until_due)
        | (a.subspecialty != b.subspecialty)
        | (a.turnaround != b.turnaround)
    )
    for name in _SET_FIELDS:
        sa, sb = getattr(a, name), getattr(b, name)
        values_a = np.asarray([hash(v) for v in sa.values], dtype=np.int64)[sa.ids]
        values_b = np.asarray([hash(v) for v in sb.values], dtype=np.int64)[sb.ids]
        mask |= values_a != values_b  # a hash clash only costs an exact re-check below
    return np.asarray(mask, dtype=np.bool_)


def changes(before: Evaluation, after: Evaluation) -> list[StudyChange]:
    """Studies whose priority, due time, subspecialty, readers, sites or caps would change.

    Both evaluations must be over the same FactsTable (same rows in the same order).
    """
    assert np.array_equal(before.columns.study_ids, after.columns.study_ids)
    out: list[StudyChange] = []
    for row in np.flatnonzero(_differs(before, after)):
        old, new = before.effect(int(row)), after.effect(int(row))
        changed = tuple(
            f
            for f in (
                "priority",
                "turnaround_minutes",
                "minutes_until_due",
                "required_subspecialty",
                "allowed_radiologists",
                "excluded_radiologists",
                "allowed_sites",
                "excluded_sites",
                "cap_groups",
                "marks",
            )
            if getattr(old, f) != getattr(new, f)
        )
        if changed:
            out.append(StudyChange(old.study_id, old, new, changed))
    return out
