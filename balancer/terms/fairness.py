"""Fair mix: each reader's wRVU should match their read minutes at the department's density.

A reader holding only quick high-wRVU studies (or only slow low-wRVU ones) drifts from the
department's wRVU per minute; the term is the absolute wRVU excess summed over readers, so
neither cherry-picked nor dumped-on worklists are cheap.
"""

from __future__ import annotations

import numpy as np

from balancer.problem import FloatArray, Problem


def cost(problem: Problem, excess: FloatArray) -> float:
    """The weighted term (the weight is minutes per wRVU of excess) from per-reader excess."""
    return problem.params.weights.fairness * float(np.abs(excess).sum())
