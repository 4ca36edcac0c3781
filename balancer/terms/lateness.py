"""Urgency-weighted projected lateness: minutes past the due time, times the priority weight."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from balancer.terms.base import FloatArray, SequenceTerm

if TYPE_CHECKING:
    from balancer.problem import Problem


class Lateness(SequenceTerm):
    name = "lateness"
    default_weight = 1.0
    description = "Minutes a study is projected to finish past its due time, by priority weight."
    position = 10
    rule_settable = True

    def hinge(self, problem: Problem) -> tuple[FloatArray, FloatArray]:
        """The due time; `weights.lateness` x the priority's weight (`Params.priority_weights`)."""
        pw = problem.params.priority_weights
        w = self.weight(problem)
        weight = np.array([w * pw.get(s.priority, 1.0) for s in problem.studies], dtype=np.float64)
        return problem.due, weight


TERM = Lateness()
