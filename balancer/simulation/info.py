"""What a rule can see of a simulated study, and the hook through which rules reach the planner."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from balancer.model import Params, Snapshot
from domain.enums import Modality, PatientClass, Priority, Subspecialty


@dataclass(frozen=True, slots=True)
class StudyInfo:
    """The rule-visible facts of one simulated study, as ordered (before any rule applies)."""

    procedure_code: str
    modality: Modality
    body_part: str
    subspecialty: Subspecialty
    priority: Priority
    patient_class: PatientClass
    site_code: str
    referrer: str
    patient_age: int
    wrvu: float
    ready_at: datetime
    due_at: datetime


# Rules applied to each snapshot (and the params) before radflow plans, like the live runner's
# adjust hook: it may change a study's priority, due time, subspecialty, allowed/excluded
# readers and cap group, the snapshot's caps and the weights. Keyed by `Study.id`.
Adjust = Callable[[Snapshot, Params, Mapping[int, StudyInfo]], tuple[Snapshot, Params]]
