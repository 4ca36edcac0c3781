"""Building a first complete assignment: keep what still holds, then place the rest.

Pins and still-valid current assignments are kept as they are (stability). Studies left over are
placed in worklist order, each on the reader where it costs least: for a handful (an event) by
exact insertion, for many (a cold start) by a vectorised sweep that appends each study behind the
more urgent ones already placed, which is exact for lateness when nothing else is placed yet.
"""

from __future__ import annotations

import time
from bisect import bisect_left

import numpy as np
import numpy.typing as npt

from balancer.frontier import SLACK, Frontier
from balancer.objective import evaluate
from balancer.problem import FloatArray, IntArray
from balancer.state import State
from balancer.terms import READER

# Above this many studies to place, insertion prices only a few readers per study; above this
# share of all studies as well (a cold start: most have no reader to keep), the sweep is used.
EXACT_INSERT_LIMIT = 150
COLD_SHARE = 0.5
# Readers priced per study in a large event: the soonest to finish it and the least utilised.
WIDE = 4
# In a single event, a study with more than twice this many eligible readers (a network of
# hundreds; a department's studies have at most a few dozen) is priced on this many soonest
# and this many least utilised: exact insertion on all of them made a leaver's re-plan at
# 20,000 x 400 cost more than the whole re-plan's budget.
NARROW = 16
# The cold start stops re-sweeping after this many sweeps in a row that improved on the best by
# less than this share of the objective: the estimate has settled and the search gains more.
STALE_SWEEPS = 3
CONVERGED = 1e-4
# What a sweep with the reader terms costs, in sweeps without them (`lean_sweep`; measured 3.8
# at 20,000 x 400): the cold start's last sweep prices every term when that much time is left.
FULL_SWEEP = 4.0
# Placements between two refreshes of the waiting bound's guard when many are inserted at once.
GUARD_REFRESH = 16


def is_cold(state: State, rest: list[int]) -> bool:
    """True when so much is left to place that the plan is built from scratch (the sweep)."""
    return len(rest) > EXACT_INSERT_LIMIT and len(rest) > COLD_SHARE * state.p.n


def keep_current(state: State) -> list[int]:
    """Place pins and still-valid current assignments; return the studies left to place."""
    p = state.p
    target = np.where(p.pinned >= 0, p.pinned, p.prior)
    keep = target >= 0
    # Within a cap group the current readers are kept in worklist order while they have room.
    used = state.used.copy()
    for k in np.flatnonzero(keep & (p.group >= 0) & (p.pinned < 0)).tolist():
        r, g = int(target[k]), int(p.group[k])
        if used[r, g] < p.slots[r, g]:
            used[r, g] += 1
        else:
            keep[k] = False
    kept = np.flatnonzero(keep & (state.assign < 0))
    state.add_many(kept, target[kept])
    rest: list[int] = np.flatnonzero(~keep).tolist()
    return rest


def candidates(state: State, k: int) -> IntArray:
    """Eligible readers with room in the study's cap group."""
    elig = state.p.eligible[k]
    g = int(state.p.group[k])
    if g < 0:
        return elig
    room: IntArray = elig[state.used[elig, g] < state.p.slots[elig, g]]
    return room


def soonest(state: State, k: int, cand: IntArray, width: int) -> IntArray:
    """The `width` candidates on which study k would finish soonest (its slot in their order)."""
    p = state.p
    starts = np.empty(cand.size, dtype=np.float64)
    for i, r in enumerate(cand):
        pos = bisect_left(state.lists[r], k)
        starts[i] = state.fin[r][pos - 1] if pos else p.busy[r]
    starts += p.times_on(k, cand)
    picked: IntArray = cand[np.argpartition(starts, width)[:width]]
    return picked


def insert_exact(
    state: State, rest: list[int], width: int | None = None, *, guarded: bool = True
) -> list[int]:
    """Place each study where the objective grows least; return those no reader had room for.

    With `width`, a study with more than twice `width` eligible readers is priced only on the
    `width` who would finish it soonest and the `width` least utilised (a large event, or a
    network of hundreds of readers). `guarded`: with the waiting bound on, a study goes only
    where it holds the bound best (`Frontier`); a large event is placed unguarded (guarding its
    hundreds of placements moved more studies than the repair after it does).
    """
    left: list[int] = []
    guard = Frontier(state) if state.p.params.hold_overtake_bound and guarded else None
    for i, k in enumerate(rest):
        best, best_r = np.inf, -1
        cand = candidates(state, k)
        if width is not None and cand.size > 2 * width:
            util = state.load[cand] / state.p.capacity[cand]
            least = cand[np.argpartition(util, width)[:width]]
            cand = np.union1d(least, soonest(state, k, cand, width))
        if guard is not None and cand.size:
            if i and i % GUARD_REFRESH == 0:
                guard.refresh()
            # The waiting bound: where the study holds it best (the repair sees to the rest).
            cand = guard.places(k, cand)
        for r in cand:
            d = state.place_delta(k, int(r))
            if d < best:
                best, best_r = d, int(r)
        if best_r < 0:
            left.append(k)
        else:
            state.add(k, best_r)
    return left


def sweep(state: State, rest: list[int], delay: FloatArray | None = None) -> list[int]:
    """Place studies in worklist order by marginal cost; return those no reader had room for.

    `delay[k, r]` estimates the cost per minute of pushing back the studies that will follow
    study k on reader r (from an earlier sweep); without it placing k only prices k itself.
    """
    p = state.p
    todo = set(rest)
    # Work already on a worklist that is read before study k: its projected start.
    ahead = p.busy.copy()
    bound = p.params.hold_overtake_bound
    margin = p.params.overtake_margin_minutes * SLACK
    left: list[int] = []
    for k in range(p.n):
        if k not in todo:
            r0 = int(state.assign[k])
            if r0 >= 0:
                ahead[r0] += p.read_time(k, r0)
            continue
        cand = candidates(state, k)
        if cand.size == 0:
            left.append(k)
            continue
        start = ahead[cand]
        near = _near(start, margin, float(p.aged[k])) if bound else None
        if near is not None:
            cand, start = cand[near], start[near]
        t = p.times_on(k, cand)
        finish = start + t
        starts, weights = p.hinge_start[:, k, None], p.hinge_weight[:, k, None]
        cost = (weights * np.maximum(finish - starts, 0.0)).sum(axis=0)
        load = state.load[cand]
        for term in READER:
            cost += term.sweep(state, k, cand, t, load)
        for price in state.placement_terms:
            cost += price.across(p, k, cand)
        if delay is not None:
            cost += t * delay[k, cand]
        best = int(np.argmin(cost))
        r = int(cand[best])
        state.add(k, r, refresh=False)
        ahead[r] += t[best]
    state.refresh_all()
    return left


def fixed_prices(state: State) -> tuple[list[FloatArray], list[FloatArray]]:
    """Per study, its read time on each eligible reader and the placement terms' price there
    (`lean_sweep`'s: neither changes while a cold start sweeps)."""
    p = state.p
    times: list[FloatArray] = []
    prices: list[FloatArray] = []
    for k in range(p.n):
        elig = p.eligible[k]
        times.append(p.times_on(k, elig))
        price = np.zeros(elig.size, dtype=np.float64)
        for term in state.placement_terms:
            price += term.across(p, k, elig)
        prices.append(price)
    return times, prices


def lean_sweep(
    state: State,
    rest: list[int],
    fixed: tuple[list[FloatArray], list[FloatArray]],
    delay: FloatArray | None = None,
) -> list[int]:
    """`sweep` without the reader terms (balance, idle, fairness): each study goes where its
    sequence terms, placement prices and knock-on delay cost least, which depends only on when
    each reader would start it. So read times and prices come from `fixed` (`fixed_prices`),
    and the studies are put on their worklists all at once at the end; a cold start's re-sweeps
    take half the time or less this way (docs/balancer.md, the cold start)."""
    p = state.p
    todo = set(rest)
    times, prices = fixed
    ahead = p.busy.copy()
    used = state.used.copy()
    bound = p.params.hold_overtake_bound
    margin = p.params.overtake_margin_minutes * SLACK
    placed: list[int] = []
    on: list[int] = []
    left: list[int] = []
    for k in range(p.n):
        if k not in todo:
            r0 = int(state.assign[k])
            if r0 >= 0:
                ahead[r0] += p.read_time(k, r0)
            continue
        cand, t, cost = p.eligible[k], times[k], prices[k]
        g = int(p.group[k])
        if g >= 0:
            room = used[cand, g] < p.slots[cand, g]
            cand, t, cost = cand[room], t[room], cost[room]
        if cand.size == 0:
            left.append(k)
            continue
        start = ahead[cand]
        near = _near(start, margin, float(p.aged[k])) if bound else None
        if near is not None:
            cand, t, cost, start = cand[near], t[near], cost[near], start[near]
        finish = start + t
        cost = p.hinge_weight[:, k] @ np.maximum(finish - p.hinge_start[:, k, None], 0.0) + cost
        if delay is not None:
            cost += t * delay[k, cand]
        best = int(cost.argmin())
        r = int(cand[best])
        ahead[r] = finish[best]
        placed.append(k)
        on.append(r)
        if g >= 0 and p.pinned[k] < 0:
            used[r, g] += 1
    state.add_many(np.array(placed, dtype=np.int64), np.array(on, dtype=np.int64))
    return left


def _near(start: FloatArray, margin: float, aged: float) -> npt.NDArray[np.bool_] | None:
    """The waiting bound (promote.py) in a sweep: a study past its age limit (`aged`: when it
    gets there) goes where it starts at most `margin` after its soonest start, or before its
    limit; work placed later, ranked behind it, starts no sooner than that anywhere, so none of
    it overtakes it by more. The candidates (whose starts are `start`) it may go to, or None
    when it could go to any."""
    latest = float(start.max())
    soonest = float(start.min())
    if not (soonest + margin < latest and aged < latest):
        return None
    near: npt.NDArray[np.bool_] = (start <= soonest + margin) | (start <= aged)
    return near


def delay_estimate(state: State) -> FloatArray:
    """Per study and reader, the cost slope of the work placed after it there in `state`.

    A study placed on a reader delays everything behind it; once those are late every minute
    of delay costs their lateness (and age) weight. The slope is read off a complete
    assignment, so a second sweep can price that knock-on delay.
    """
    p = state.p
    # Laid out reader by reader (each reader's row contiguous: the sums run along it, which at
    # 20,000 x 400 is several times faster than down the columns), returned as [study, reader].
    slope = np.zeros((p.m, p.n + 1), dtype=np.float64)
    for r in range(p.m):
        idx = state.arr[r]
        if idx.size == 0:
            continue
        fin = state.fin[r]
        slope[r, idx] = (p.hinge_weight[:, idx] * (fin > p.hinge_start[:, idx])).sum(axis=0)
    # delay[k, r] = sum of slopes of studies after k on r (k itself excluded).
    tail = np.cumsum(slope[:, ::-1], axis=1)[:, ::-1]
    out: FloatArray = tail[:, 1:].T
    return out


def cold_start(
    state: State, rest: list[int], sweeps: int, deadline: float
) -> tuple[State, list[int]]:
    """Sweep, then re-sweep up to `sweeps` times pricing the knock-on delay read off the sweep
    before; returns the best state found (a fresh one per sweep, since each re-places every
    study).

    The sweeps leave out the reader terms (`lean_sweep`): the delay estimate carries the
    sweeps' gain, and without those terms a sweep takes a fraction of the time for within
    0.1 % of the objective, so more of them fit (docs/balancer.md, the cold start). One
    re-sweep runs whatever the clock says; the others while they still improve and should end
    before `deadline`. Then, if it fits too, one more with every term.
    """
    began = time.perf_counter()
    fixed = fixed_prices(state)
    left = lean_sweep(state, rest, fixed)
    best, best_left = state, left
    best_total = evaluate(state.p, state.assign)["total"]
    delay = best_delay = delay_estimate(state)
    took = time.perf_counter() - began  # one sweep's time, to judge whether another fits
    stale = 0
    for i in range(sweeps):
        began = time.perf_counter()
        if i and began + took > deadline:
            break
        trial = State(state.p)
        trial_left = lean_sweep(trial, keep_current(trial), fixed, delay)
        total = evaluate(trial.p, trial.assign)["total"]
        estimate = delay_estimate(trial)
        stale = 0 if total < best_total * (1.0 - CONVERGED) else stale + 1
        if total < best_total:
            best, best_left, best_total = trial, trial_left, total
            delay = best_delay = estimate
        else:
            # A re-sweep that did not improve: the next starts halfway back towards the best
            # one's estimate (plain iteration from it wandered).
            delay = 0.5 * best_delay + 0.5 * estimate
        took = time.perf_counter() - began
        if stale >= STALE_SWEEPS:
            break
    if time.perf_counter() + FULL_SWEEP * took <= deadline:
        final = State(state.p)
        final_left = sweep(final, keep_current(final), delay)
        if evaluate(final.p, final.assign)["total"] < best_total:
            return final, final_left
    return best, best_left
