"""The balancer: a pure function from a department snapshot to an ordered, explained plan."""

from balancer.eligibility import check_pin, is_eligible
from balancer.model import (
    Assignment,
    Params,
    Plan,
    Radiologist,
    Snapshot,
    Study,
    Violation,
    ViolationCode,
    Weights,
)
from balancer.planner import plan
from balancer.validate import validate

__all__ = [
    "Assignment",
    "Params",
    "Plan",
    "Radiologist",
    "Snapshot",
    "Study",
    "Violation",
    "ViolationCode",
    "Weights",
    "check_pin",
    "is_eligible",
    "plan",
    "validate",
]
