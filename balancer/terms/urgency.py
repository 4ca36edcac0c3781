"""Urgency: every minute until urgent work is read costs, even well before its due time.

Lateness alone is indifferent between starting a STAT now or in twenty minutes as long as both
meet the deadline, and reads run longer than projected; this term sends STAT work to the reader
who will start it now (DOMAIN.md) and lets an idle reader take it from a busy one.
Routine work costs a little too (0.03 per minute): far from its due time and age limit it
otherwise cost nothing wherever it waited, so fairness and balance alone chose its reader.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from balancer.terms.base import FloatArray, SequenceTerm

if TYPE_CHECKING:
    from balancer.problem import Problem


class Urgency(SequenceTerm):
    name = "urgency"
    default_weight = 1.0
    description = "Projected finish of urgent work (minutes from now), by per-minute urgency."
    position = 30

    def hinge(self, problem: Problem) -> tuple[FloatArray, FloatArray]:
        """From now (a finish is never before now); `weights.urgency` x the priority's rate."""
        uw = problem.params.urgency_per_minute
        w = self.weight(problem)
        weight = np.array([w * uw.get(s.priority, 0.0) for s in problem.studies], dtype=np.float64)
        return np.zeros(problem.n, dtype=np.float64), weight


TERM = Urgency()
