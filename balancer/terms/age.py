"""The age limit: every minute a study waits beyond the limit costs, whatever its priority.

Priority alone lets a stream of urgent work postpone routine studies without bound; this term
keeps the worst-case wait from growing (the order rule also promotes aged studies).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from balancer.terms.base import FloatArray, SequenceTerm

if TYPE_CHECKING:
    from balancer.problem import Problem


class Age(SequenceTerm):
    name = "age"
    default_weight = 1.0
    description = "Minutes a study waits beyond its priority's age limit."
    position = 20

    def hinge(self, problem: Problem) -> tuple[FloatArray, FloatArray]:
        """The time the study reaches its age limit; `weights.age` for every study."""
        return problem.aged, np.full(problem.n, self.weight(problem), dtype=np.float64)


TERM = Age()
