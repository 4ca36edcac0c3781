"""Waiting across readers: studies past their age limit that younger work overtakes.

Within one worklist the age limit promotes an old study; across readers nothing did, so an old
study could sit at the tail of a long queue while a reader who may read it starts younger work
of the same tier within the hour. `overtaken` counts it from the snapshot and the plan alone
(solver-blind, like `validate`): a study is overtaken when its projected start is past its age
limit and, on some reader who may read it, a younger study that the worklist order ranks
behind it (the same or a lower tier, due later) is projected to start more than
`Params.overtake_margin_minutes` before it. Younger work ranked ahead of it (due sooner, as an
ED study with a short turnaround can be) is the order rule's choice and not counted.
"""

from __future__ import annotations

from collections import Counter, defaultdict

import numpy as np

from balancer.eligibility import EligibilityIndex
from balancer.model import Params, Plan, Snapshot
from balancer.ordering import sort_key
from balancer.problem import minutes
from domain.enums import Priority


def overtaken(snapshot: Snapshot, plan: Plan, params: Params) -> dict[int, str]:
    """Each overtaken study (see the module's docstring) with the first overtaker that shows it."""
    now = snapshot.now
    margin = params.overtake_margin_minutes
    index = EligibilityIndex(snapshot.radiologists, now)
    placed = [
        (s, plan.assignments[s.id])
        for s in snapshot.studies
        if s.id in plan.assignments and s.opened_by is None
    ]
    placed.sort(key=lambda sa: sort_key(sa[0], params))
    # Per reader, its unopened work: start, ready (minutes from now), rank in worklist order.
    lists: dict[int, list[tuple[float, float, int, int]]] = defaultdict(list)
    waiting = []
    for rank, (s, a) in enumerate(placed):
        start, ready = minutes(a.projected_start, now), minutes(s.ready_at, now)
        lists[a.radiologist_id].append((start, ready, rank, s.id))
        pinned = s.pinned_to is not None and s.pinned_to == a.radiologist_id
        if start > ready + params.age_limit(s.priority) and not pinned:
            # A study a supervisor pinned stays where the pin holds it: the bound yields.
            waiting.append((s, start, ready, rank))
    # What each reader holds of each cap group: a reader at the cap of a study's group (one
    # that holds for it) may not take it now, so their work does not count against it.
    held: Counter[tuple[int, str]] = Counter()
    for s in snapshot.studies:
        on = plan.assignments.get(s.id)
        if s.cap_group is not None and on is not None:
            held[(on.radiologist_id, s.cap_group)] += 1
    # Per reader, every waiting study they may read against all of their work at once.
    mine: dict[int, list[int]] = defaultdict(list)
    for w, (s, *_) in enumerate(waiting):
        cap = snapshot.caps.get(s.cap_group) if s.cap_group is not None else None
        bends = s.priority is Priority.STAT and s.cap_group in snapshot.cap_bends
        for rid in index.readers(s):
            if rid not in lists:
                continue
            full = cap is not None and not bends and held[(rid, str(s.cap_group))] >= cap
            if not full or plan.assignments[s.id].radiologist_id == rid:
                mine[rid].append(w)
    w_start = np.array([w[1] for w in waiting])
    w_ready = np.array([w[2] for w in waiting])
    w_rank = np.array([w[3] for w in waiting])
    out: dict[int, str] = {}
    for rid, ws in sorted(mine.items()):
        items = lists[rid]
        starts = np.array([i[0] for i in items])
        readies = np.array([i[1] for i in items])
        ranks = np.array([i[2] for i in items])
        q = np.array(ws)
        hit = (
            (starts[None, :] < w_start[q, None] - margin)
            & (ranks[None, :] > w_rank[q, None])
            & (readies[None, :] > w_ready[q, None])
        )
        for row in np.flatnonzero(hit.any(axis=1)):
            s, start = waiting[q[row]][0], w_start[q[row]]
            if s.id in out:
                continue
            j = int(np.argmax(hit[row]))
            out[s.id] = (
                f"younger study {items[j][3]} ranked behind it starts on radiologist "
                f"{rid} {start - starts[j]:.0f} min before it"
            )
    return out
