"""A bound on waiting across readers: an old study overtaken by younger work is moved up.

The objective prices waiting linearly, so when the backlog is past its limits the cheapest
place for an old study is where few studies wait behind it: the tail of a long queue, while a
reader who may read it starts younger work of the same tier within the hour. That is held as a
constraint, enforced after the search: a study whose projected start is past its age limit and
that a younger study the worklist order ranks behind it (the same or a lower tier, due later),
on a reader who may read it, starts more than `Params.overtake_margin_minutes` before, moves
to a reader who may read it where it starts sooner (on the overtaker's reader it goes ahead of
the overtaker). Younger work ranked ahead of it (due sooner) is the order rule's choice, which
no placement changes, and is not counted. `repair` relieves them oldest first, by the move
that leaves the fewest studies overtaken (the watch's exact count: `balancer.frontier.Watch`):
the study itself to a reader where it starts sooner, or work ranked just ahead of it on its
reader to another (the study then starts sooner where it is), until none is left; `overtaken`
is the same count computed from scratch, reader by reader (the
neighbourhood search's check, and the tests' reference for the watch); `waiting.overtaken`
counts what is left from the plan alone. A re-plan keeps new and moved work from causing such
repairs in the first place (`balancer.frontier`).
"""

from __future__ import annotations

from bisect import bisect_left

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
# Work ranked just ahead of an overtaken study on its reader that the repair offers to move
# away (so the study starts sooner where it is), and the readers each is priced on (those
# where it would start soonest).
AHEAD = 3
AHEAD_TARGETS = 4
# Rounds of the repair (see `repair`).
ROUNDS = 3


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
    """Relieve overtaken studies, oldest first, until none is left or none can move; returns
    the number of moves.

    A study is relieved by the move that leaves the fewest studies overtaken, when that is
    fewer than before (`_relieving`): of the study itself to a reader where it starts sooner,
    or of work ranked just ahead of it on its reader to another, so that it starts sooner where
    it is (moving the study alone pushes its new reader's aged work back, and often breaks as
    many as it relieves). Failing that it moves itself (`_best`) even where that breaks others,
    who are then relieved in turn, at most `MOVES_EACH` times. What is left after that round
    (studies moved back and forth) gets `ROUNDS - 1` more of moving the studies themselves
    only, which settles what the relieving moves kept unsettling."""
    made = 0
    for round_ in range(ROUNDS):
        if not watch.over:
            break
        made += _round(state, watch, relieve=round_ == 0)
    return made


def _round(state: State, watch: Watch, *, relieve: bool) -> int:
    """One round of `repair`: moves until every study still overtaken is stuck."""
    p = state.p
    made = 0
    stuck: set[int] = set()
    moved: dict[int, int] = {}
    while True:
        todo = [k for k in watch.over if k not in stuck]
        if not todo:
            return made
        k = min(todo, key=lambda s: (p.ready[s], s))
        x, b = _relieving(state, watch, k) if relieve else (-1, -1)
        if x < 0 and moved.get(k, 0) < MOVES_EACH:
            x, b = k, _best(state, watch, k)
            moved[k] = moved.get(k, 0) + 1
        if b < 0:
            stuck.add(k)
            continue
        watch.try_move(x, b, allowed=p.n)
        made += 1


def _relieving(state: State, watch: Watch, k: int) -> tuple[int, int]:
    """Among `_offers` for overtaken study k, the move (study, reader) that leaves the fewest
    studies overtaken, when fewer than now; between equals, of a study this re-plan moved
    already (its reader saw it go) and then the cheapest by the objective. (-1, -1) when none
    leaves fewer."""
    best: tuple[int, bool, float] | None = None
    move = (-1, -1)
    for x, readers in _offers(state, watch, k):
        for i, r in enumerate(readers.tolist()):
            new, relieved = watch.price(x, r)
            if relieved == 0 and i == 0 and x != k:
                # Taking x off k's reader relieved nothing there; a reader that starts x later
                # seldom does better (it differs only in whose work x pushes back): not priced.
                break
            if relieved <= new:
                continue
            key = (new - relieved, not _moved(state, x), state.move_delta(x, r))
            if best is None or key < best:
                best, move = key, (x, r)
    return move


def _moved(state: State, k: int) -> bool:
    """Whether study k is off the reader the snapshot gave it (or had none): moving it again
    shows no reader a study leaving that had not left already."""
    prior = int(state.p.prior[k])
    return prior < 0 or int(state.assign[k]) != prior


def _offers(state: State, watch: Watch, k: int) -> list[tuple[int, IntArray]]:
    """The moves `_relieving` prices for overtaken study k, as (study, readers): k to the
    readers where it starts soonest (within the near share of the margin of its soonest
    start), and each of the `AHEAD` movable studies ranked just ahead of it on its reader to
    the `AHEAD_TARGETS` readers where that study would start soonest, soonest first."""
    a = int(state.assign[k])
    out = [(k, _pool(state, watch, k))]
    lst = state.lists[a]
    for x in [x for x in lst[: bisect_left(lst, k)] if state.movable(x)][-AHEAD:]:
        cand = candidates(state, x)
        cand = cand[cand != a]
        if cand.size:
            when = np.array([start_on(state, x, int(r)) for r in cand])
            out.append((x, cand[np.argsort(when, kind="stable")[:AHEAD_TARGETS]]))
    return out


def _pool(state: State, watch: Watch, k: int) -> IntArray:
    """The readers study k may move to that start it sooner, within the near share of the
    margin of its soonest start: the `PRICED` soonest, soonest first (empty when none)."""
    a = int(state.assign[k])
    cand: IntArray = candidates(state, k) if state.movable(k) else np.zeros(0, dtype=np.int64)
    cand = cand[cand != a]
    when = np.array([start_on(state, k, int(r)) for r in cand], dtype=np.float64)
    sooner = when < float(watch.start[k]) - 1e-6
    cand, when = cand[sooner], when[sooner]
    if cand.size == 0:
        return cand
    # Only a reader where it starts within the margin of its soonest start can relieve it.
    near = when <= when.min() + state.p.params.overtake_margin_minutes * NEAR
    pool: IntArray = cand[near][np.argsort(when[near], kind="stable")[:PRICED]]
    return pool


def _best(state: State, watch: Watch, k: int) -> int:
    """The reader study k itself should move to (see `repair`), or -1 when no reader starts it
    sooner."""
    pool = _pool(state, watch, k)
    if pool.size == 0:
        return -1
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
