"""Each reader's read time per procedure group, learned from the reads they signed.

The model (a normal-normal hierarchy on log read times, fitted by empirical Bayes):

- one read of catalogue time `c` by a reader takes `c x exp(y)`, `y ~ N(theta, sigma2)`: read
  times are right-skewed and scale with the study, so their logarithm relative to the
  catalogue is close to normal with one spread `sigma2` for every reader and group;
- `theta` for a reader and a group is drawn around the reader's overall pace,
  `theta ~ N(mu - sigma2 / 2, tau2)` with `mu = ln(reference / wrvu_per_hour)`: before any read,
  the expected read time (the log-normal mean, `exp(theta + sigma2 / 2)`) is the catalogue's
  figure scaled by the reader's overall speed, as the balancer has always projected it;
- the posterior mean of `theta` is the precision-weighted blend
  `prior + w (mean_y - prior)` with `w = n / (n + sigma2 / tau2)`: no reads keep the catalogue
  figure, many reads reach the reader's own mean, a few land in between by exactly `w`.

`sigma2` and `tau2` are estimated from every reader's history together (the within-group
spread pooled over groups; the spread of groups around their prior by the method of moments,
less what the within-group noise explains), and fall back to the defaults while too few reads
exist to say. A reader's pace for a group is the factor on their overall pace:
`exp(w (mean_y - mu + sigma2 / 2))`, 1.0 exactly without reads.

Only sufficient statistics are kept (`domain.paces.PaceHistory`: the count, sum and sum of
squares of `y`), so a signature updates one row and the planner reads one row per reader and
group.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from domain.paces import PaceHistory, read_log_ratio

__all__ = [
    "PaceHistory",
    "Spread",
    "estimate_spread",
    "learned_paces",
    "pace_factor",
    "read_log_ratio",
]

# Defaults while the history is too thin to estimate the spreads: a read's log-time varies by
# about 0.3 around the reader's mean for the group, and a reader's group means by about 0.3
# around their overall pace (a reader 35 % faster at one kind of work than at another is common).
DEFAULT_WITHIN = 0.3**2
DEFAULT_BETWEEN = 0.3**2
# Degrees of freedom (reads beyond the first in each group, summed) before the within-group
# spread is taken from the history, and groups with reads before the between-group one is.
MIN_WITHIN_DF = 30
MIN_GROUPS = 8
# The between-group spread never goes below this: a history that happens to show no
# differences must not stop the estimate from following a reader who does differ.
MIN_BETWEEN = 0.02**2


@dataclass(frozen=True, slots=True)
class Spread:
    """The model's two variances: of one read around its reader-group mean (`within`), and of a
    reader-group mean around the reader's overall pace (`between`), both on log read times."""

    within: float = DEFAULT_WITHIN
    between: float = DEFAULT_BETWEEN

    @property
    def shrinkage(self) -> float:
        """Reads at which a reader's own mean and the prior weigh the same (`within / between`)."""
        return self.within / self.between


def estimate_spread(
    histories: Mapping[tuple[int, str], PaceHistory], inv_speed: Mapping[int, float]
) -> Spread:
    """The variances estimated from every reader's history (empirical Bayes), each falling back
    to its default while the history is too thin for it. Keys are (reader id, group)."""
    df = sum(h.reads - 1 for h in histories.values() if h.reads > 1)
    within = DEFAULT_WITHIN
    if df >= MIN_WITHIN_DF:
        squares = sum(
            h.log_square_sum - h.reads * h.mean**2 for h in histories.values() if h.reads > 1
        )
        within = max(squares / df, MIN_BETWEEN)
    cells = [
        (h, inv_speed[rid])
        for (rid, _), h in histories.items()
        if h.reads > 0 and rid in inv_speed and inv_speed[rid] > 0
    ]
    between = DEFAULT_BETWEEN
    if len(cells) >= MIN_GROUPS:
        # E[(mean_y - prior)^2] = tau2 + sigma2 / n for each cell.
        deviation = sum((h.mean - _prior(inv, within)) ** 2 for h, inv in cells) / len(cells)
        noise = sum(within / h.reads for h, _ in cells) / len(cells)
        between = max(deviation - noise, MIN_BETWEEN)
    return Spread(within=within, between=between)


def _prior(inv_speed: float, within: float) -> float:
    """The prior mean of a reader-group's log-median time: their overall pace's log-mean."""
    return math.log(inv_speed) - within / 2.0


def pace_factor(history: PaceHistory, inv_speed: float, spread: Spread) -> float:
    """The expected read time of this reader and group over what their overall pace projects
    (`inv_speed` x the catalogue): 1.0 without reads, the shrunken estimate with them."""
    if history.reads == 0:
        return 1.0
    weight = history.reads / (history.reads + spread.shrinkage)
    return math.exp(weight * (history.mean - _prior(inv_speed, spread.within)))


def learned_paces(
    histories: Mapping[tuple[int, str], PaceHistory],
    inv_speed: Mapping[int, float],
    spread: Spread | None = None,
) -> dict[int, dict[str, float]]:
    """Per reader, their pace factor per procedure group with reads (`pace_factor`); the spreads
    are estimated from `histories` unless given. `inv_speed` is reference / wRVU per hour."""
    fitted = spread if spread is not None else estimate_spread(histories, inv_speed)
    out: dict[int, dict[str, float]] = {}
    for (rid, group), history in histories.items():
        inv = inv_speed.get(rid)
        if inv is None or inv <= 0 or history.reads == 0:
            continue
        out.setdefault(rid, {})[group] = pace_factor(history, inv, fitted)
    return out
