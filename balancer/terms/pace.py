"""Reading time at learned paces: the minutes a read is expected to take beyond the fastest
pace any reader on duty has for its procedure group cost, per minute, `weights.pace`.

No other term prices a reader's time as such: a routine study far from its due time costs
nothing wherever it finishes, so without this term better knowledge of who reads what fast
changed only projections (and the idle term even preferred a slow read, which fills a reader's
idle horizon more). Per study and reader the price is `read_time(k, r) - nominal x inv_speed x
best factor`, the minutes lost against the group's fastest factor at this reader's overall
pace, so a reader's overall speed (already in every projection) is not priced twice. Without
learned paces (`Problem.paced` false) the term is inactive and costs nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from balancer.terms.base import MatrixPlacementTerm

if TYPE_CHECKING:
    from balancer.problem import Problem


class Pace(MatrixPlacementTerm):
    name = "pace"
    default_weight = 4.0
    description = (
        "Minutes a read is expected to take beyond the fastest learned pace for its group, "
        "at the reader's overall pace (0 without learned paces)."
    )
    position = 85

    def prepare(self, problem: Problem) -> None:
        """Per study and reader, the price of the study on the reader (study x reader)."""
        w = self.weight(problem)
        if w <= 0 or not problem.paced or not problem.n:
            problem.term_data.pop(self.name, None)
            return
        best = problem.pace.min(axis=0)  # per group column, the fastest factor on duty
        factor = problem.pace[:, problem.kind].T  # study x reader
        extra = factor - best[problem.kind][:, None]
        minutes = problem.nominal[:, None] * problem.inv_speed[None, :]
        problem.term_data[self.name] = np.asarray(w * minutes * extra, dtype=np.float64)


TERM = Pace()
