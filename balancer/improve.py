"""Local search: move single studies between readers while the whole objective drops.

Every accepted move strictly lowers the objective including the stability price, so a study is
only taken from a reader it suits when the gain in lateness, balance or mix pays for the move.
Candidates are pruned: a study tries the few least-utilised readers who may take it and, when
it is projected late, the few on which it would finish soonest (lateness depends on the work
ahead of it, not on utilisation).
"""

from __future__ import annotations

import time

import numpy as np

from balancer.construct import candidates, soonest
from balancer.frontier import Frontier, Watch, start_on
from balancer.problem import FloatArray
from balancer.state import State

# A move must gain at least this much (minutes-equivalent) to be taken: no churn on noise.
MIN_GAIN = 1e-3
# Least-utilised candidate readers tried for a study that is not late.
NARROW = 3
# A pull offers the target this many studies per round, for at most this many rounds.
PULL_CANDIDATES = 24
PULL_ROUNDS = 20
# A re-plan searches around this many of the most pressed readers besides the touched ones.
FOCUS = 3
# ... and around at most this many of the touched readers, the most pressed first. A large event
# touches most of a department (a burst of STATs lands on nearly every reader): relieving all of
# them moved 1 % of the other studies at 5,000 x 100 for 0.01-0.03 % of the objective; the
# readers the event pressed most are where relief pays (docs/balancer.md, large events).
TOUCHED_LIMIT = 3 * FOCUS
# A study an idle reader is offered waits at least this many minutes on its own reader's list:
# one about to be started there gains nothing from the move but churn.
IDLE_WAIT_MINUTES = 5.0
# The studies priced for an idle reader: those that would wait longest on their own lists.
IDLE_CANDIDATES = 48


def _aged(state: State, k: int, a: int) -> bool:
    """Whether study k, on reader a, starts past its age limit."""
    return bool(start_on(state, k, a) > state.p.aged[k])


def _best_move(
    state: State, k: int, a: int, util: FloatArray, late: bool, guard: Frontier | None
) -> tuple[float, int]:
    cand = candidates(state, k)
    cand = cand[cand != a]
    if cand.size == 0:
        return 0.0, -1
    if cand.size > NARROW:
        # Balance gains come from the least utilised readers, lateness gains from those that
        # would start the study soonest; nothing else is worth pricing.
        pool = cand[np.argpartition(util[cand], NARROW)[:NARROW]]
        if late:
            pool = np.union1d(pool, soonest(state, k, cand, NARROW))
        cand = pool
    if state.p.params.hold_overtake_bound and _aged(state, k, a):
        cand = cand[[start_on(state, k, int(b)) <= start_on(state, k, a) for b in cand]]
    if guard is not None:
        cand = cand[[guard.allows(k, int(b)) for b in cand]]
    best, best_b = -MIN_GAIN, -1
    for b in cand:
        d = state.move_delta(k, int(b))
        if d < best:
            best, best_b = d, int(b)
    return best, best_b


def relocate(
    state: State,
    sources: list[int],
    deadline: float,
    guard: Frontier | None = None,
    watch: Watch | None = None,
) -> int:
    """One pass over the studies of `sources` (in order); returns the number of moves made.

    With a `guard` (a re-plan holding the waiting bound) no study moves to where it would start
    ahead of aged work it overtakes (`balancer.frontier`)."""
    p = state.p
    made = 0
    for a in sources:
        if time.perf_counter() > deadline:
            break
        util = state.utilisation()
        # Tail first: the last studies of a worklist gain most from moving elsewhere.
        for k in reversed(state.lists[a][:]):
            if not state.movable(k) or state.assign[k] != a:
                continue
            pos = int(np.searchsorted(state.arr[a], k))
            finish = state.fin[a][pos]
            late = bool(finish > p.due[k] or finish > p.aged[k])
            _, b = _best_move(state, k, a, util, late, guard)
            if b >= 0 and _moved(state, k, b, watch):
                util = state.utilisation()
                made += 1
                if guard is not None:
                    guard.refresh()
            if time.perf_counter() > deadline:
                break
    return made


def pull(
    state: State,
    targets: list[int],
    deadline: float,
    guard: Frontier | None = None,
    watch: Watch | None = None,
) -> int:
    """Offer each target reader the best study it may take from busier readers; returns moves.

    The relocation pass looks from overloaded readers outward; this looks from an idle or
    newly started reader inward, which is how a fresh shift gets work without waiting for
    arrivals.
    """
    p = state.p
    made = 0
    for b in targets:
        for _ in range(PULL_ROUNDS):
            if time.perf_counter() > deadline:
                return made
            util = state.utilisation()
            src = state.assign
            mask = p.may_read[:, b] & (src >= 0) & (src != b) & (p.pinned < 0)
            ks = np.flatnonzero(mask)
            if ks.size == 0:
                break
            busier = util[src[ks]] > util[b]
            ks = ks[busier]
            if ks.size > PULL_CANDIDATES:
                # Prefer work that sits late in busy worklists: the most to gain.
                score = util[src[ks]] * 1e6 + ks
                ks = ks[np.argpartition(-score, PULL_CANDIDATES)[:PULL_CANDIDATES]]
            best, best_k = -MIN_GAIN, -1
            for k in ks:
                if not state.allowed(int(k), b):
                    continue
                a = int(src[k])
                if (
                    p.params.hold_overtake_bound
                    and _aged(state, int(k), a)
                    and start_on(state, int(k), b) > start_on(state, int(k), a)
                ):
                    continue
                if guard is not None and not guard.allows(int(k), b):
                    continue
                d = state.move_delta(int(k), b)
                if d < best:
                    best, best_k = d, int(k)
            if best_k < 0 or not _moved(state, best_k, b, watch):
                break
            made += 1
            if guard is not None:
                guard.refresh()
    return made


def underloaded(state: State, limit: int | None = None, margin: float = 0.05) -> list[int]:
    """Readers who will run out of work within the idle horizon, then those whose utilisation is
    below the department's by more than `margin`; emptiest first.

    Utilisation alone misses the first case when shifts have just started: against ten hours
    left, every reader's utilisation is a few percent, so a reader with nothing to read was
    within the margin of the mean and never offered work (seen in the simulator: a reader idle
    for 84 minutes of the morning peak while 40 studies they could read waited elsewhere).
    """
    util = state.utilisation()
    mean = float(state.load.sum() / state.p.capacity.sum()) if state.p.m else 0.0
    horizon = state.p.params.idle_horizon_minutes
    idle = [int(r) for r in np.argsort(state.load, kind="stable") if state.load[r] < horizon]
    low = idle + [int(r) for r in np.argsort(util) if util[r] < mean - margin and r not in idle]
    return low if limit is None else low[:limit]


def pressure_order(state: State, readers: list[int] | None = None) -> list[int]:
    """Readers most worth relieving first: highest lateness, then highest utilisation."""
    pool = list(range(state.p.m)) if readers is None else readers
    util = state.utilisation()
    return sorted(pool, key=lambda r: (-state.seq[r], -util[r]))


def search(state: State, deadline: float) -> int:
    """Relocation and pull passes over every reader until a round finds nothing or time is up."""
    total = 0
    while time.perf_counter() < deadline:
        made = relocate(state, pressure_order(state), deadline)
        made += pull(state, underloaded(state), deadline)
        total += made
        if made == 0:
            break
    return total


def settle(
    state: State, deadline: float, guard: Frontier | None = None, watch: Watch | None = None
) -> int:
    """Send back every moved study whose move no longer pays; returns how many went back.

    A search move is priced against the plan as it stood then; later moves can make it
    unnecessary (the reader it relieved was relieved again by another), and a move that no
    longer pays for its stability price is churn a supervisor sees for nothing. The first pass
    runs whatever the clock says (it prices only the moved studies); more passes while a pass
    sends something back and time remains.
    """
    p = state.p
    back = 0
    while True:
        moved = np.flatnonzero((p.prior >= 0) & (state.assign >= 0) & (state.assign != p.prior))
        sent = 0
        for k in moved.tolist():
            home = int(p.prior[k])
            if not (state.movable(k) and state.allowed(k, home)):
                continue
            if guard is not None and not guard.allows(k, home):
                continue
            if state.move_delta(k, home) < -MIN_GAIN and _moved(state, k, home, watch):
                sent += 1
                if guard is not None:
                    guard.refresh()
        back += sent
        if sent == 0 or time.perf_counter() > deadline:
            return back


def touch_up(state: State, touched: set[int], deadline: float, watch: Watch | None = None) -> int:
    """The re-plan search: relieve the readers an event touched and the most pressed, feed the idle.

    A re-plan starts from a plan that was already searched, so only the neighbourhood of the
    change is worth the time; everything else would only trade stability for noise.
    """
    guard = Frontier(state) if state.p.params.hold_overtake_bound else None
    sources = pressure_order(state)[:FOCUS]
    pressed = pressure_order(state, sorted(touched))[:TOUCHED_LIMIT]
    sources += [r for r in pressed if r not in sources]
    made = relocate(state, sources, deadline, guard, watch)
    made += pull(state, underloaded(state, FOCUS), deadline, guard, watch)
    return made


def idle_readers(state: State) -> list[int]:
    """Readers with nothing to read now: no open read and an empty worklist."""
    return [r for r in range(state.p.m) if not state.lists[r] and state.load[r] <= 0.0]


def feed_idle(state: State, guard: Frontier | None = None, watch: Watch | None = None) -> int:
    """Give every idle reader (`idle_readers`) a study they may read that waits elsewhere;
    returns how many were given.

    A rule, not a priced move: the objective prices a reader's idle minutes (idle term) against
    the stability price of a routine study and a reader's fairness credit, and a short routine
    read does not pay for its move, nor does any read to a reader ahead of the department; so a
    reader sat with an empty worklist while work they may read waited on other lists (seen in
    the simulator; a shared list never does that). Of
    the studies waiting at least `IDLE_WAIT_MINUTES` on their own reader and fitting in what
    is left of the idle reader's shift, the one whose move costs least in the objective goes,
    whatever that cost: the reader starts it at once, so no later re-plan sends it back.
    Runs after `settle`, which would otherwise undo it.
    """
    p = state.p
    made = 0
    for b in idle_readers(state):
        src = state.assign
        ks = np.flatnonzero(p.may_read[:, b] & (src >= 0) & (src != b) & (p.pinned < 0))
        if ks.size == 0:
            continue
        fits = p.read_times(ks, b) <= p.capacity[b]
        ks = ks[fits]
        starts = np.array([start_on(state, int(k), int(src[k])) for k in ks.tolist()])
        waits = starts >= IDLE_WAIT_MINUTES
        ks, starts = ks[waits], starts[waits]
        if ks.size > IDLE_CANDIDATES:
            ks = ks[np.argpartition(-starts, IDLE_CANDIDATES)[:IDLE_CANDIDATES]]
        best, best_k = float("inf"), -1
        for k in ks.tolist():
            if not state.allowed(k, b) or (guard is not None and not guard.allows(k, b)):
                continue
            d = state.move_delta(k, b)
            if d < best:
                best, best_k = d, k
        if best_k >= 0 and _moved(state, best_k, b, watch):
            made += 1
            if guard is not None:
                guard.refresh()
    return made


def _moved(state: State, k: int, b: int, watch: Watch | None) -> bool:
    """Move study k to reader b; with a `watch` (the waiting bound held), only when that
    leaves no study overtaken that was not (the move is optional, the bound is not)."""
    if watch is None:
        state.move(k, b)
        return True
    return watch.try_move(k, b)
