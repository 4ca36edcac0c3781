"""A bound on waiting across readers: an old study overtaken by younger work is moved up.

The objective prices waiting linearly, so when the backlog is past its limits the cheapest
place for an old study is where few studies wait behind it: the tail of a long queue, while a
reader who may read it starts younger work of the same tier within the hour. That is held as a
constraint, enforced after the search: a study whose projected start is past its age limit and
that a younger study the worklist order ranks behind it (the same or a lower tier, due later),
on a reader who may read it, starts more than `Params.overtake_margin_minutes` before, moves
to a reader who may read it where it starts sooner (on the overtaker's reader it goes ahead of
the overtaker). Younger work ranked ahead of it (due sooner) is the order rule's choice, which
no placement changes, and is not counted. `repair` moves them oldest first, each where the
fewest studies are left overtaken (the watch's exact count: `balancer.frontier.Watch`), until
none is left; `overtaken` is the same count computed from scratch, reader by reader (the
neighbourhood search's check, and the tests' reference for the watch); `waiting.overtaken`
counts what is left from the plan alone. A re-plan keeps new and moved work from causing such
repairs in the first place (`balancer.frontier`).
"""

from __future__ import annotations

import numpy as np

from balancer.construct import candidates
from balancer.frontier import Watch, range_max, room, start_on, starts
from balancer.problem import FloatArray, IntArray
from balancer.state import State

# Readers where the study starts within this share of the margin of its soonest start are
# priced (a study moved there is left that much inside the margin, against the next drift).
NEAR = 0.5
# Candidate readers priced per study (the soonest of those).
PRICED = 4
# Times one study may be moved by one repair (a study moved back and forth is stuck).
MOVES_EACH = 2


def overtaken(state: State, start: FloatArray | None = None) -> IntArray:
    """Placed studies past their age limit that younger work the worklist order ranks behind
    them starts more than the margin before them on a reader who may read them; oldest first."""
    p = state.p
    start = starts(state) if start is None else start
    margin = p.params.overtake_margin_minutes
    aged = np.flatnonzero((start > p.aged) & (p.pinned < 0))  # a pin holds: the bound yields
    hit = np.zeros(p.n, dtype=np.bool_)
    for r in range(p.m if aged.size else 0):
        idx = state.arr[r]
        sel = aged[p.may_read[aged, r] & room(state, aged, r)]
        if idx.size == 0 or sel.size == 0:
            continue
        # The work on r ranked behind s (a suffix of r's worklist) that starts more than the
        # margin before s (a prefix): the youngest of it must not be younger than s.
        lo = np.searchsorted(idx, sel, side="right")
        hi = np.searchsorted(start[idx], start[sel] - margin)
        some = lo < hi
        if some.any():
            hit[sel[some]] |= range_max(p.ready[idx], lo[some], hi[some]) > p.ready[sel[some]]
    out = np.flatnonzero(hit)
    ordered: IntArray = out[np.argsort(p.ready[out], kind="stable")]
    return ordered


def repair(state: State, watch: Watch) -> int:
    """Move overtaken studies up, oldest first, until none is left or none can move; returns
    the number of moves. Each goes, among the readers that start it
    about as soon as possible, to the one where the fewest studies are left overtaken
    (`Watch.price`: those the move breaks less those it relieves, the study itself among
    them), then where the objective prices it least."""
    p = state.p
    made = 0
    stuck: set[int] = set()
    moved: dict[int, int] = {}
    while True:
        todo = [k for k in watch.over if k not in stuck]
        if not todo:
            break
        k = min(todo, key=lambda s: (p.ready[s], s))
        b = _best(state, watch, k)
        if b < 0 or moved.get(k, 0) >= MOVES_EACH:
            stuck.add(k)
            continue
        watch.try_move(k, b, allowed=p.n)
        moved[k] = moved.get(k, 0) + 1
        made += 1
    return made


def _best(state: State, watch: Watch, k: int) -> int:
    """The reader study k should move to (see `repair`), or -1 when no reader starts it
    sooner."""
    if not state.movable(k):
        return -1
    a = int(state.assign[k])
    cand = candidates(state, k)
    cand = cand[cand != a]
    if cand.size == 0:
        return -1
    when = np.array([start_on(state, k, int(r)) for r in cand])
    sooner = when < float(watch.start[k]) - 1e-6
    cand, when = cand[sooner], when[sooner]
    if cand.size == 0:
        return -1
    # Only a reader where it starts within the margin of its soonest start can relieve it.
    near = when <= when.min() + state.p.params.overtake_margin_minutes * NEAR
    pool = cand[near][np.argsort(when[near], kind="stable")[:PRICED]]
    price = np.array([state.move_delta(k, int(r)) for r in pool])
    best: tuple[int, float] | None = None
    best_b = -1
    # Cheapest first; a move that relieves the study and breaks nothing is taken at once.
    for i in np.argsort(price, kind="stable").tolist():
        r = int(pool[i])
        new, relieved = watch.price(k, r)
        key = (new - relieved, float(price[i]))
        if best is None or key < best:
            best, best_b = key, r
        if new == 0 and relieved > 0:
            break
    return best_b
