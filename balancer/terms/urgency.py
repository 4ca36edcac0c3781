"""Urgency: every minute until urgent work is read costs, even well before its due time.

Lateness alone is indifferent between starting a STAT now or in twenty minutes as long as both
meet the deadline, and reads run longer than projected; this term sends STAT work to the reader
who will start it now (DOMAIN.md) and lets an idle reader take it from a busy one.
"""

from __future__ import annotations

from balancer.problem import FloatArray, IntArray, Problem


def cost(problem: Problem, idx: IntArray, finish: FloatArray) -> float:
    """Weighted projected finish (minutes from now) of studies `idx`."""
    return float(problem.urgency_weight[idx] @ finish)
