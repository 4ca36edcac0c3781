"""The worklist order: by priority tier, then earliest effective due time within a tier.

The order is a fixed rule rather than a decision, so the objective becomes a function of who
reads what alone. Tiers (default STAT, then URGENT, then ROUTINE) keep urgent work ahead the
way departments expect; within a tier, earliest-due-date first minimises the worst lateness on
one reader, and the age limit (effective due = min(due, ready + limit)) keeps a far-due study
from being pushed back without bound by newer ones: pure sorting makes the worst wait grow.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from balancer.model import Params, Study

SortKey = tuple[int, datetime, datetime, int]


def effective_due(study: Study, params: Params) -> datetime:
    """The due time, or the age limit if that comes first."""
    aged = study.ready_at + timedelta(minutes=params.age_limit(study.priority))
    return min(study.due_at, aged)


def sort_key(study: Study, params: Params) -> SortKey:
    """Position key in every worklist: smaller is read first."""
    tier = params.priority_tiers.get(study.priority, 1)
    return (tier, effective_due(study, params), study.ready_at, study.id)
