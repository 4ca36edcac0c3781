"""How many studies of a cap group can be placed at most: a max-flow, from the snapshot alone.

The check `validate` runs on a plan that leaves studies of a cap group without a reader, and
the bench's `stat_placeable`. It knows nothing of the planner: source -> study (1) -> each
reader who may read it now (1) -> sink (the cap less the group's studies the reader has
opened).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

import numpy as np
from ortools.graph.python import max_flow

from balancer.eligibility import EligibilityIndex
from balancer.model import Snapshot


def placeable(snapshot: Snapshot, group: str, fixed: Mapping[int, int] | None = None) -> int:
    """The most unopened studies of cap group `group` that can be placed at once.

    `fixed` maps a study to the one reader it must go to (a supervisor pin the plan keeps).
    Without a cap for the group, every study with an eligible reader counts.
    """
    fixed = fixed or {}
    index = EligibilityIndex(snapshot.radiologists, snapshot.now)
    studies = [s for s in snapshot.studies if s.cap_group == group and s.opened_by is None]
    arcs: list[tuple[int, int]] = []
    readers: dict[int, int] = {}
    for i, s in enumerate(studies):
        pool = (fixed[s.id],) if s.id in fixed else index.readers(s)
        for rid in pool:
            arcs.append((i, readers.setdefault(rid, len(readers))))
    cap = snapshot.caps.get(group)
    if cap is None or not arcs:
        return len({i for i, _ in arcs})
    held = Counter(
        s.opened_by for s in snapshot.studies if s.cap_group == group and s.opened_by is not None
    )
    n = len(studies)
    # Nodes: 0 source, 1 sink, studies from 2, readers after them.
    tails = [0] * n + [2 + i for i, _ in arcs] + [2 + n + j for j in range(len(readers))]
    heads = list(range(2, 2 + n)) + [2 + n + j for _, j in arcs] + [1] * len(readers)
    room = [max(cap - held[rid], 0) for rid in readers]
    caps = [1] * (n + len(arcs)) + room
    flow = max_flow.SimpleMaxFlow()
    flow.add_arcs_with_capacity(
        np.array(tails, dtype=np.int32), np.array(heads, dtype=np.int32), np.array(caps)
    )
    if flow.solve(0, 1) != flow.OPTIMAL:
        raise RuntimeError(f"max-flow for cap group {group} did not solve")
    return int(flow.optimal_flow())
