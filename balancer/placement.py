"""Maximum placement under caps: the studies of a cap group re-placed as a min-cost flow.

Placing studies one at a time on a reader with room is maximal, not maximum: a STAT put on the
only reader with room for another STAT blocks it, though it could have gone to a reader with
room that the other may not read. When construction leaves studies of a cap group without a
reader, that group is solved again as a flow (source -> study -> eligible reader -> sink, each
reader's room in the group as its capacity), every unpinned study of the group taking part, so
the number placed is the maximum. Among maximum flows the cheapest wins, and the cost carries,
in this order of importance:

* the worklist order: a study earlier in it (a higher tier, or due or aged sooner) is placed
  before a later one when not all of them fit;
* the fast path's insertion preference: what the study costs on the reader (its own lateness,
  age and urgency there, the delay it imposes on the work behind it, the balance and the
  stability price), relative to where it is now (or its best reader when unplaced);
* a unit for every change, so nothing moves unless the count or the preference asks for it.

Where the group's cap bends for STAT (`Snapshot.cap_bends`), each STAT of it also has an arc
to an "over the cap" node of every reader who may read it, with no capacity limit and the
rule's price per study: every STAT that someone may read is then placed, within the caps where
there is room for it (an arc over the cap costs the price on top of the same preference), over
a cap only where nothing within them fits or where starting it there saves more than the price.
"""

from __future__ import annotations

import numpy as np
from ortools.graph.python import min_cost_flow

from balancer.problem import FloatArray, IntArray
from balancer.state import State
from balancer.terms import READER

# Cost units per minute-equivalent of the objective.
SCALE = 100
# Cost of one rank of the worklist order; a reader preference never outweighs it.
RANK_UNIT = 10_000_000
# Cost of placing a study anywhere but where it is now.
CHANGE = 1


def maximise(state: State, left: list[int]) -> list[int]:
    """Re-place the cap groups of the studies in `left` so that as many studies as possible
    are placed; returns the studies (of any group) no arrangement has room for."""
    p = state.p
    out: list[int] = []
    for g in sorted({int(p.group[k]) for k in left}):
        if g < 0:  # no cap: construction never leaves such a study, but never drop it either
            out += [k for k in left if p.group[k] < 0]
            continue
        out += _place_group(state, g)
    return sorted(out)


def insertion_costs(state: State, members: IntArray) -> tuple[IntArray, IntArray, FloatArray]:
    """Arcs (study, reader) for every eligible pair of `members`, each with what the study costs
    on that reader with everything else where it is (minutes-equivalent)."""
    p = state.p
    rows: list[IntArray] = []
    cols: list[IntArray] = []
    costs: list[FloatArray] = []
    for r in range(p.m):
        ks = members[p.may_read[members, r]]
        if ks.size == 0:
            continue
        arr, fin = state.arr[r], state.fin[r]
        pos = np.searchsorted(arr, ks)
        on = state.assign[ks] == r
        starts = np.concatenate(([p.busy[r]], fin))
        t = p.read_times(ks, r)
        finish = starts[pos] + t
        own = (p.hinge_weight[:, ks] * np.maximum(finish - p.hinge_start[:, ks], 0.0)).sum(axis=0)
        # Cost per minute of delay of the work on r from each position on (suffix sums).
        slope = (p.hinge_weight[:, arr] * (fin > p.hinge_start[:, arr])).sum(axis=0)
        behind = np.concatenate((np.cumsum(slope[::-1])[::-1], [0.0]))
        own += t * np.where(on, behind[np.minimum(pos + 1, arr.size)], behind[pos])
        load = state.load[r] - np.where(on, t, 0.0)
        for term in READER:
            own += term.insertion(state, ks, r, t, load)
        for price in state.placement_terms:
            own += price.prices(p, ks, r)
        rows.append(ks)
        cols.append(np.full(ks.size, r, dtype=np.int64))
        costs.append(own)
    if not rows:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros(0)
    return np.concatenate(rows), np.concatenate(cols), np.concatenate(costs)


def _place_group(state: State, g: int) -> list[int]:
    """Solve cap group `g` as a flow and apply it; returns the group's studies left unplaced."""
    p = state.p
    members = np.flatnonzero((p.group == g) & (p.pinned < 0)).astype(np.int64)
    members = members[[p.eligible[int(k)].size > 0 for k in members]]
    if members.size == 0:
        return []
    ks, rs, cost = insertion_costs(state, members)
    current = state.assign[ks]
    # The reference cost of a study: where it is now, or its best reader when unplaced.
    ref = np.full(p.n, np.inf)
    np.minimum.at(ref, ks, np.where(current < 0, cost, np.inf))
    here = current == rs
    ref[ks[here]] = cost[here]
    rel = np.clip(np.rint((cost - ref[ks]) * SCALE), 0, RANK_UNIT // 10).astype(np.int64)
    rel += CHANGE * (rs != current)

    # Nodes: 0 source, 1 sink, then one per member, then one per reader, then one per reader
    # for the studies it holds over the cap (used only where the cap bends for STAT).
    node = np.full(p.n, -1, dtype=np.int64)
    node[members] = 2 + np.arange(members.size)
    reader_node = 2 + members.size + np.arange(p.m, dtype=np.int64)
    over_node = reader_node + p.m
    room = np.maximum(p.slots[:, g], 0)
    rank = np.arange(members.size, dtype=np.int64)  # members are in worklist order
    bent = np.isfinite(p.over_price[ks])
    over_cost = rel[bent] + np.rint(p.over_price[ks[bent]] * SCALE).astype(np.int64)
    tails = np.concatenate(([0] * members.size, node[ks], reader_node, node[ks[bent]], over_node))
    heads = np.concatenate(
        (node[members], reader_node[rs], [1] * p.m, over_node[rs[bent]], [1] * p.m)
    )
    caps = np.concatenate(
        (
            np.ones(members.size + ks.size, dtype=np.int64),
            room,
            np.ones(int(bent.sum()), dtype=np.int64),
            np.full(p.m, members.size, dtype=np.int64),
        )
    )
    unit = np.concatenate(
        (rank * RANK_UNIT, rel, np.zeros(p.m, dtype=np.int64), over_cost, np.zeros(p.m, np.int64))
    )
    flow = min_cost_flow.SimpleMinCostFlow()
    flow.add_arcs_with_capacity_and_unit_cost(
        tails.astype(np.int32), heads.astype(np.int32), caps, unit.astype(np.int64)
    )
    # Offer every member at the source and take as many as the network carries at the sink.
    flow.set_node_supply(0, int(members.size))
    flow.set_node_supply(1, -int(members.size))
    status = flow.solve_max_flow_with_min_cost()
    if status != flow.OPTIMAL:
        raise RuntimeError(f"min-cost flow for cap group {g} ended {status}")
    used = flow.flows(np.arange(members.size, members.size + ks.size, dtype=np.int32)) > 0
    target = np.full(p.n, -1, dtype=np.int64)
    target[ks[used]] = rs[used]
    first_over = members.size + ks.size + p.m
    over = flow.flows(np.arange(first_over, first_over + bent.sum(), dtype=np.int32)) > 0
    target[ks[bent][over]] = rs[bent][over]

    touched: set[int] = set()
    changed = [int(k) for k in members if target[k] != state.assign[k]]
    for k in changed:
        if state.assign[k] >= 0:
            touched.add(state.remove(k, refresh=False))
    for k in changed:
        if target[k] >= 0:
            state.add(k, int(target[k]), refresh=False)
            touched.add(int(target[k]))
    state.refresh(touched)
    return [int(k) for k in members if target[k] < 0]
