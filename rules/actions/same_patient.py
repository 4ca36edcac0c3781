"""Same-patient grouping: a patient's concurrent open studies matched by the rule are read by
one radiologist (a CT head and a CT cervical spine from the same trauma, a chest film and the
chest CT that followed it), so the reader sees the whole picture once and the reports agree.

A routing action with no fields. Each study the rule matches gets the `same_patient` mark on
its Effect; the application turns the mark into the balancer study's `reader_group`
("patient-<id>"), and the balancer's `together` term keeps the group on one reader who may read
all of it (a strong preference, not a hard rule: see balancer/terms/together.py). Only the
studies the rule matches are grouped: a patient's study outside the condition goes its own way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rules.actions.base import ActionKind
from rules.effects import Change

MARK = "same_patient"


@dataclass(frozen=True, slots=True)
class GroupSamePatient:
    """Keep a patient's concurrent matching studies on one reader."""


class GroupSamePatientKind(ActionKind):
    kind = "group_same_patient"
    action = GroupSamePatient
    position = 110
    single_valued = True
    mark = MARK
    description = "Keep a patient's concurrent open studies matched by the rule on one reader."

    def change(self, action: Any, rule: Any, base_rank: int, winners: Any, names: Any) -> Change:
        return Change("reader_group", "same patient")

    def snapshot(self, study: Any) -> dict[str, object]:
        """The balancer study joins its patient's reader group (nothing without a patient)."""
        patient = getattr(study, "patient_id", None)
        return {} if patient is None else {"reader_group": f"patient-{patient}"}


KIND = GroupSamePatientKind()
