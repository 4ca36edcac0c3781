"""Fairness: each reader's wRVU should keep pace with the capacity they spend, over the shift.

A reader's excess is the wRVU they will have read by the time their worklist is done (or the
idle horizon has passed, whichever is later) minus their share at the department's pace: the
department's wRVU read per wRVU of capacity this shift, times the reader's capacity over the
same time (`Problem.charge` per minute). It starts from the shift's credit (`shift_credit`),
so a reader who is ahead, by denser work or more of it, is steered to lower-density work (or to
less of it while others have room) and one who is behind to more. Within the worklists it is
also the old mix rule: holding only quick high-wRVU studies drifts a reader off the pace, and
so does being handed only slow low-wRVU ones. The term is the absolute excess summed over
readers, in minutes per wRVU by its weight.

Idle minutes within the horizon are charged too: capacity passes whether or not there is work,
so with room on both, work goes to the reader who is behind rather than the one ahead.

Two refinements: a reader's weight grows over their shift, from `Params.fairness_floor` of
`weights.fairness` at its start to all of it at its end (`problem.fairness_weight`), and a study
whose priority is not in `Params.fairness_priorities` (by default STAT and URGENT ones) counts
at the department's pace (charge x its read minutes on any reader), so holding it moves nobody's
excess while they have work past the idle horizon: who reads urgent work is decided by when
they would finish it. Both are measured in docs/balancer.md.
"""

from __future__ import annotations

import numpy as np

from balancer.problem import FloatArray, IntArray, Problem


def excess(
    problem: Problem,
    wrvu: float | FloatArray,
    load: float | FloatArray,
    readers: int | IntArray,
) -> float | FloatArray:
    """Excess of `readers` holding `wrvu` (credit and opened work included) and `load` minutes."""
    h = problem.params.idle_horizon_minutes
    return wrvu - problem.charge[readers] * np.maximum(load, h)


def cost(problem: Problem, excesses: FloatArray) -> float:
    """The weighted term from per-reader excess (each reader's weight is minutes per wRVU of
    excess, `Problem.fair_weight`)."""
    return float((problem.fair_weight * np.abs(excesses)).sum())
