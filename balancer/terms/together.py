"""Together: studies sharing a `reader_group` (a patient's concurrent studies, grouped by a
rule) go to one reader, the group's anchor, where one may read them all.

A strong preference, not a hard rule: each study of a group placed off its anchor costs
`weights.together` minutes-equivalent, so the group stays together unless splitting saves more
than that (a STAT in the group whose anchor is backed up is read elsewhere rather than late).
A hard constraint would have to give way to pins, opened reads, caps and eligibility anyway,
and could leave a study unplaced that a reader could read; `validate` does not check it.

The anchor, decided once per plan from the snapshot: among the readers who may read every
movable study of the group, the one who has opened one of its studies, else the one a study
of it is pinned to, else the one holding most of it now, else the least busy. A group nobody
may read whole has no anchor: its studies are planned one by one, as if ungrouped.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import TYPE_CHECKING

import numpy as np

from balancer.terms.base import FloatArray, IntArray, PlacementTerm

if TYPE_CHECKING:
    from balancer.problem import Problem


class Together(PlacementTerm):
    name = "together"
    default_weight = 60.0
    description = "Minutes-equivalent for each study of a reader group placed off its anchor."
    position = 90

    def active(self, problem: Problem) -> bool:
        """Only when some group has an anchor."""
        return self.name in problem.term_data

    def prepare(self, problem: Problem) -> None:
        """The anchor reader index of each study's group (-1: none), as `anchor` per study."""
        problem.term_data.pop(self.name, None)
        w = self.weight(problem)
        members: dict[str, list[int]] = defaultdict(list)
        for k, study in enumerate(problem.studies):
            if study.reader_group is not None:
                members[study.reader_group].append(k)
        if w <= 0 or not members:
            return
        opened_by: dict[str, set[int]] = defaultdict(set)
        for rid, studies in problem.opened.items():
            for study in studies:
                if study.reader_group is not None and rid in problem.reader_index:
                    opened_by[study.reader_group].add(problem.reader_index[rid])
        anchor = np.full(problem.n, -1, dtype=np.int64)
        for group, ks in members.items():
            if len(ks) + len(opened_by[group]) < 2:
                continue  # one study alone: nothing to keep together
            r = _anchor(problem, ks, opened_by[group])
            if r >= 0:
                anchor[ks] = r
        if (anchor >= 0).any():
            problem.term_data[self.name] = anchor

    def prices(self, problem: Problem, ks: IntArray, r: int) -> FloatArray:
        """The weight for each study of `ks` whose group's anchor is not `r`."""
        anchor = problem.term_data[self.name][ks]
        out: FloatArray = self.weight(problem) * ((anchor >= 0) & (anchor != r))
        return out

    def price(self, problem: Problem, k: int, r: int) -> float:
        """Scalar `prices` (the search's hot path)."""
        a = int(problem.term_data[self.name][k])
        return 0.0 if r < 0 or a < 0 or a == r else self.weight(problem)

    def across(self, problem: Problem, k: int, readers: IntArray) -> FloatArray:
        """Vectorised over readers (the construction sweep)."""
        a = int(problem.term_data[self.name][k])
        if a < 0:
            return np.zeros(readers.size, dtype=np.float64)
        out: FloatArray = self.weight(problem) * (readers != a)
        return out


def _anchor(problem: Problem, ks: list[int], opened: set[int]) -> int:
    """The reader index the group `ks` (movable studies) is kept on, or -1."""
    fits = np.flatnonzero(problem.may_read[ks].all(axis=0))
    if fits.size == 0:
        return -1
    allowed = set(fits.tolist())
    for r in sorted(opened):
        if r in allowed:
            return r
    for k in ks:
        if int(problem.pinned[k]) in allowed:
            return int(problem.pinned[k])
    held = Counter(int(problem.prior[k]) for k in ks if int(problem.prior[k]) in allowed)
    if held:
        return max(held, key=lambda r: (held[r], -r))
    return int(fits[np.argmin(problem.busy[fits])])


TERM = Together()
