"""A bound on waiting across readers: an old study overtaken by younger work is moved up.

The objective prices waiting linearly, so when the backlog is past its limits the cheapest
place for an old study is where few studies wait behind it: the tail of a long queue, while a
reader who may read it starts younger work of the same tier within the hour. That is held as a
constraint, enforced after the search: a study whose projected start is past its age limit and
that a younger study the worklist order ranks behind it (the same or a lower tier, due later),
on a reader who may read it, starts more than `Params.overtake_margin_minutes` before, moves
to a reader who may read it where it starts sooner (on the overtaker's reader it goes ahead of
the overtaker). Younger work ranked ahead of it (due sooner) is the order rule's choice, which
no placement changes, and is not counted. Oldest
first, in rounds, until none is left or the time is up; among readers that start it about as
soon as possible, the one where it pushes the fewest aged studies over the margin, then the
move the objective prices least. `waiting.overtaken` counts what is left from the plan alone.
A re-plan keeps new and moved work from causing such repairs in the first place
(`balancer.frontier`).
"""

from __future__ import annotations

import time
from bisect import bisect_left

import numpy as np

from balancer.construct import candidates
from balancer.frontier import Watch, pushed_over, range_max, room, slack_of, start_on, starts
from balancer.problem import FloatArray, IntArray
from balancer.state import State

# Readers within this share of the margin of the earliest start are priced by the objective.
NEAR = 0.5
# Candidate readers priced per study.
PRICED = 4
# Rounds at most. A re-plan after one event starts from a plan that held the bound, but a
# leaver's studies or an hour's drift of the projections can leave a few hundred studies
# overtaken, and each move can push a study behind it over the margin: two rounds left up to
# 350 overtaken at 5000 x 100; repair to the end leaves none (docs/balancer.md).
ROUNDS = 20
EVENT_ROUNDS = ROUNDS
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


def _overtaken(state: State, k: int, start: float) -> bool:
    """`overtaken` for one study starting at `start`, against the plan as it stands."""
    p = state.p
    if start <= p.aged[k]:
        return False
    margin = p.params.overtake_margin_minutes
    readers = p.eligible[k]
    for r in readers[room(state, k, readers)].tolist():
        idx = state.arr[r]
        lo = bisect_left(state.lists[r], k + 1)
        if lo >= idx.size:
            continue
        t = p.read_times(idx[lo:], r)
        early = state.fin[r][lo:] - t < start - margin
        if early.any() and bool((p.ready[idx[lo:]][early] > p.ready[k]).any()):
            return True
    return False


def promote(state: State, deadline: float, rounds: int = ROUNDS) -> int:
    """Move overtaken studies up (see the module's docstring); returns the number of moves.

    Rounds run whatever the clock says until none is left, none can move, or `rounds` are
    done: the bound is a rule, not a preference (`deadline` is kept for a caller that wants
    repair cut short; the planner passes none).
    """
    made = 0
    stuck: set[int] = set()
    for _ in range(rounds):
        start = starts(state)
        todo = [int(k) for k in overtaken(state, start) if int(k) not in stuck]
        if not todo:
            return made
        touched: set[int] = set()
        slack = slack_of(state, start)
        for k in todo:
            a = int(state.assign[k])
            s_k = float(start[k])
            if touched:  # earlier moves may have changed its start or freed it
                s_k = start_on(state, k, a)
                if not _overtaken(state, k, s_k):
                    continue
            b = _target(state, k, a, s_k, slack)
            if b < 0:
                stuck.add(k)
                continue
            state.move(k, b)
            touched.update((a, b))
            made += 1
        if time.perf_counter() > deadline:
            break
    return made


def _target(state: State, k: int, a: int, now_start: float, slack: FloatArray) -> int:
    """The reader study k should move to, or -1 when no reader starts it sooner.

    Among the readers that start it about as soon as possible, the one where it pushes back
    the fewest aged studies over the margin (each would be the next repair: without this
    choice one repair led to dozens more, along queues all held just inside the margin); then
    the move the objective prices least.
    """
    if not state.movable(k):
        return -1
    cand = candidates(state, k)
    cand = cand[cand != a]
    if cand.size == 0:
        return -1
    when = np.array([start_on(state, k, int(r)) for r in cand])
    soonest = float(when.min())
    if soonest >= now_start - 1e-6:
        return -1
    near = state.p.params.overtake_margin_minutes * NEAR
    pool = cand[when <= soonest + near]
    pushed = np.array([pushed_over(state, k, int(r), slack) for r in pool])
    pool = pool[pushed == pushed.min()]
    if pool.size > PRICED:
        pool = pool[np.argsort([start_on(state, k, int(r)) for r in pool], kind="stable")[:PRICED]]
    prices = [state.move_delta(k, int(r)) for r in pool]
    return int(pool[int(np.argmin(prices))])


def repair(state: State, watch: Watch, limit: int | None = None) -> int:
    """Move overtaken studies up, oldest first, until none is left, none can move, or `limit`
    moves are made; returns the number of moves. Each goes, among the readers that start it
    about as soon as possible, to the one where the fewest studies are left overtaken
    (`Watch.price`: those the move breaks less those it relieves, the study itself among
    them), then where the objective prices it least."""
    p = state.p
    made = 0
    stuck: set[int] = set()
    moved: dict[int, int] = {}
    while limit is None or made < limit:
        todo = [k for k in watch.over if k not in stuck]
        if not todo:
            break
        k = min(todo, key=lambda s: (p.ready[s], s))
        _, b = _best(state, watch, k)
        if b < 0 or moved.get(k, 0) >= MOVES_EACH:
            stuck.add(k)
            continue
        watch.try_move(k, b, allowed=p.n)
        moved[k] = moved.get(k, 0) + 1
        made += 1
    return made


def _best(state: State, watch: Watch, k: int) -> tuple[tuple[int, float], int]:
    """Where study k should move (see `repair`), with its (left overtaken, price); -1 when no
    reader starts it sooner."""
    none = ((0, 0.0), -1)
    if not state.movable(k):
        return none
    a = int(state.assign[k])
    cand = candidates(state, k)
    cand = cand[cand != a]
    if cand.size == 0:
        return none
    when = np.array([start_on(state, k, int(r)) for r in cand])
    sooner = when < float(watch.start[k]) - 1e-6
    cand, when = cand[sooner], when[sooner]
    if cand.size == 0:
        return none
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
    return (best, best_b) if best is not None else none
