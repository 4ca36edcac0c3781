"""Stability: a price for every study taken from a reader it still suits.

The price is `weights.stability` times the priority's `Params.stability_share`: an unopened
STAT is cheap to move to a reader who will start it sooner, a routine study is not. A study
left without a reader counts as taken from its reader.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from balancer.terms.base import FloatArray, IntArray, PlacementTerm

if TYPE_CHECKING:
    from balancer.problem import Problem


class Stability(PlacementTerm):
    name = "stability"
    default_weight = 10.0
    description = "A price for each study moved from a reader who may still read it."
    position = 60
    rule_settable = True

    def prepare(self, problem: Problem) -> None:
        """`move_price` per study: the weight x the priority's stability share."""
        share = problem.params.stability_share
        w = self.weight(problem)
        problem.term_data[self.name] = np.array(
            [w * share.get(s.priority, 1.0) for s in problem.studies], dtype=np.float64
        )

    def prices(self, problem: Problem, ks: IntArray, r: int) -> FloatArray:
        """The move price of each study whose still-valid reader is not `r`."""
        prior = problem.prior[ks]
        out: FloatArray = problem.term_data[self.name][ks] * ((prior >= 0) & (prior != r))
        return out

    def unplaced(self, problem: Problem, ks: IntArray) -> FloatArray:
        """A study left without a reader is taken from the one it had."""
        out: FloatArray = problem.term_data[self.name][ks] * (problem.prior[ks] >= 0)
        return out

    def price(self, problem: Problem, k: int, r: int) -> float:
        """Scalar `prices` (the search's hot path)."""
        prior = int(problem.prior[k])
        if prior < 0 or r == prior:
            return 0.0
        return float(problem.term_data[self.name][k])

    def across(self, problem: Problem, k: int, readers: IntArray) -> FloatArray:
        """Vectorised over readers (the construction sweep)."""
        prior = int(problem.prior[k])
        if prior < 0:
            return np.zeros(readers.size, dtype=np.float64)
        out: FloatArray = problem.term_data[self.name][k] * (readers != prior)
        return out


def moved(problem: Problem, assign: IntArray) -> int:
    """Studies whose still-valid current reader differs from the plan's."""
    keep = problem.prior >= 0
    return int(np.count_nonzero(assign[keep] != problem.prior[keep]))


TERM = Stability()
