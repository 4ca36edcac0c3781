"""Where work may start on a reader without overtaking aged work (the waiting bound's guard).

The waiting bound (`balancer.promote`) forbids younger work ranked behind a study past its age
limit from starting more than `Params.overtake_margin_minutes` before it on a reader who may
read it. Repairing that after the fact is what made the bound cost churn: every re-plan put a
new arrival, or moved a study in the touch-up, onto the reader with room, where it started
ahead of aged work waiting elsewhere, and the repair then promoted that aged work onto the
reader, pushing the newcomer and the work behind it back, and so on along the queues. The
guard stops it where it starts: a placement of study k on reader r is allowed only where k
starts no more than the margin before any aged study ranked ahead of it that r may read.

Kept as, per reader, the running maximum of the aged studies' projected starts in worklist
order (study indices are ranks), so a query is one bisection. It is conservative: it does not
ask whether the aged study is older than k, nor whether r is at the cap of its group.
"""

from __future__ import annotations

from bisect import bisect_left

import numpy as np

from balancer.problem import FloatArray, IntArray
from balancer.state import State

# A start this close to the limit counts as within it (floating point).
EPS = 1e-6
# Placements (the cold sweep's and a re-plan's) hold the bound with this share of its margin: a
# plan built right at the margin is pushed over it by the drift of projections from one re-plan
# to the next (a read runs over, an idle reader's queue waits while a busy one's is read).
SLACK = 0.5


def starts(state: State) -> FloatArray:
    """Projected start (minutes from now) of every placed study; NaN for unplaced ones."""
    p = state.p
    out = np.full(p.n, np.nan)
    for r in range(p.m):
        idx = state.arr[r]
        if idx.size:
            out[idx] = state.fin[r] - p.read_times(idx, r)
    return out


def start_on(state: State, k: int, r: int) -> float:
    """Where study k would start if it joined (or, on its own reader, stayed on) reader r."""
    lst = state.lists[r]
    pos = bisect_left(lst, k)
    return float(state.fin[r][pos - 1]) if pos else float(state.p.busy[r])


class Frontier:
    """Per reader, the latest start of the aged, unpinned work it may read, by worklist rank."""

    def __init__(self, state: State) -> None:
        self.state = state
        self.margin = state.p.params.overtake_margin_minutes * SLACK
        self.ranks: list[IntArray] = []
        self.peaks: list[FloatArray] = []
        self.refresh()

    def refresh(self) -> None:
        """Recompute from the state as it stands (after moves)."""
        p = self.state.p
        start = starts(self.state)
        self._start = start
        self._slack: FloatArray | None = None
        aged = np.flatnonzero((start > p.aged) & (p.pinned < 0))
        self.ranks, self.peaks = [], []
        for r in range(p.m):
            sel = aged[p.may_read[aged, r]]
            self.ranks.append(sel)
            self.peaks.append(np.maximum.accumulate(start[sel]) if sel.size else start[sel])

    def earliest(self, k: int, r: int) -> float:
        """The soonest study k may start on reader r without overtaking aged work by more than
        the margin (minus infinity when no aged work ranked ahead of it may go to r)."""
        i = int(np.searchsorted(self.ranks[r], k))
        return float(self.peaks[r][i - 1]) - self.margin if i else -np.inf

    def allows(self, k: int, r: int) -> bool:
        """Whether study k may join reader r (at its place in r's order) under the bound."""
        return start_on(self.state, k, r) >= self.earliest(k, r) - EPS

    def shortfall(self, k: int, r: int) -> float:
        """How many minutes too soon study k would start on reader r (0 when it may)."""
        return max(self.earliest(k, r) - start_on(self.state, k, r), 0.0)

    def places(self, k: int, cand: IntArray) -> IntArray:
        """The readers of `cand` where placing study k holds the bound best: it overtakes no
        aged work (else the least); past its age limit, it starts within the slack of its
        soonest start (else it is overtaken itself); it pushes the fewest aged studies behind
        it over the margin (each would be a repair, and each repair pushes others)."""
        p = self.state.p
        when = np.array([start_on(self.state, k, int(r)) for r in cand])
        earliest = np.array([self.earliest(k, int(r)) for r in cand])
        short = np.maximum(earliest - when, 0.0)
        keep = short <= short.min() + EPS
        cand, when = cand[keep], when[keep]
        soonest = float(when.min())
        if soonest > p.aged[k]:
            near = when <= soonest + self.margin
            cand = cand[near]
        if self._slack is None:
            self._slack = slack_of(self.state, self._start)
        slack = self._slack
        pushed = np.array([pushed_over(self.state, k, int(r), slack) for r in cand])
        out: IntArray = cand[pushed == pushed.min()]
        return out


def pushed_over(state: State, k: int, r: int, slack: FloatArray) -> int:
    """How many aged studies behind study k's place on reader r its read time would push past
    the margin (`slack`: minutes each may still be pushed back)."""
    idx = state.arr[r]
    pos = int(np.searchsorted(idx, k))
    if pos >= idx.size:
        return 0
    return int((slack[idx[pos:]] < state.p.read_time(k, r)).sum())


def slack_of(state: State, start: FloatArray) -> FloatArray:
    """Per placed study past its age limit, how much later it may start before work ranked
    behind it on a reader who may read it starts more than the margin before it (infinite for
    the rest). Conservative: any work ranked behind counts, younger or not."""
    p = state.p
    out = np.full(p.n, np.inf)
    aged = np.flatnonzero((start > p.aged) & (p.pinned < 0))
    if aged.size == 0:
        return out
    front = np.full(p.n, np.inf)
    for r in range(p.m):
        idx = state.arr[r]
        sel = aged[p.may_read[aged, r]]
        if idx.size == 0 or sel.size == 0:
            continue
        # The soonest start among r's work from each position on.
        suffix = np.minimum.accumulate(start[idx][::-1])[::-1]
        pos = np.searchsorted(idx, sel, side="right")
        some = pos < idx.size
        front[sel[some]] = np.minimum(front[sel[some]], suffix[pos[some]])
    out[aged] = p.params.overtake_margin_minutes - (start[aged] - front[aged])
    return out
