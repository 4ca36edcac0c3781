"""A plan's assignments, kept as the searched arrays and made into `Assignment`s when read.

At network scale most of a re-plan used to go into 20,000 explained assignments, nearly all of
them the committed plan again. The plan holds the arrays instead (reader, position and
projected finish per study, copied from the search state), and `placements` gives who reads
what in which order without explaining it: the runner commits the diff against the committed
worklists from that and asks for the reason of the studies it moves only. Reading an item
(`plan.assignments[sid]`, iterating) gives the same `Assignment` the planner built eagerly
before: same fields, same reason.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import timedelta

import numpy as np

from balancer.model import Assignment, Plan
from balancer.problem import FloatArray, IntArray, Problem

Explain = Callable[[int, int, float], str]


class PlannedAssignments(Mapping[int, Assignment]):
    """study id -> Assignment, made on first read from the plan's arrays."""

    def __init__(
        self,
        problem: Problem,
        assign: IntArray,
        finish: FloatArray,
        opened: dict[int, Assignment],
        explain: Explain,
    ) -> None:
        self._p = problem
        self._assign = assign
        self._finish = finish
        self._opened = opened
        self._explain = explain  # (k, r, finish) -> reason
        self._made: dict[int, Assignment] = {}
        self._index: dict[int, int] | None = None
        # Placed studies by reader, each worklist in order: the iteration order.
        placed = np.flatnonzero(assign >= 0)
        self._order: IntArray = placed[np.argsort(assign[placed], kind="stable")]
        counts = np.bincount(assign[placed], minlength=problem.m)
        self._first: IntArray = np.cumsum(counts) - counts  # where each reader's run starts
        self._position: IntArray = np.empty(problem.n, dtype=np.int64)
        # Opened studies are read first: a worklist's positions start after them.
        ahead = np.array([len(problem.opened.get(rid, ())) for rid in problem.reader_ids])
        on = assign[self._order]
        self._position[self._order] = np.arange(self._order.size) - self._first[on] + ahead[on]

    def _k(self, study_id: int) -> int | None:
        if self._index is None:
            self._index = {s.id: k for k, s in enumerate(self._p.studies)}
        k = self._index.get(study_id)
        return None if k is None or self._assign[k] < 0 else k

    def __getitem__(self, study_id: int) -> Assignment:
        made = self._opened.get(study_id) or self._made.get(study_id)
        if made is not None:
            return made
        k = self._k(study_id)
        if k is None:
            raise KeyError(study_id)
        made = self._made[study_id] = self._make(k)
        return made

    def __contains__(self, study_id: object) -> bool:
        if study_id in self._opened:
            return True
        return isinstance(study_id, int | np.integer) and self._k(int(study_id)) is not None

    def __iter__(self) -> Iterator[int]:
        yield from self._opened
        studies = self._p.studies
        for k in self._order.tolist():
            yield studies[k].id

    def __len__(self) -> int:
        return len(self._opened) + int(self._order.size)

    def placements(self) -> Iterator[tuple[int, int, int]]:
        """(study id, reader id, position) of every item, in iteration order, unexplained."""
        for a in self._opened.values():
            yield a.study_id, a.radiologist_id, a.position
        studies, ids = self._p.studies, self._p.reader_ids
        order = self._order.tolist()
        readers = self._assign[self._order].tolist()
        positions = self._position[self._order].tolist()
        for k, r, pos in zip(order, readers, positions, strict=True):
            yield studies[k].id, ids[r], pos

    def _make(self, k: int) -> Assignment:
        p = self._p
        r = int(self._assign[k])
        rid = p.reader_ids[r]
        s = p.studies[k]
        finish = float(self._finish[k])
        t = p.read_time(k, r)
        now = p.snapshot.now
        return Assignment(
            study_id=s.id,
            radiologist_id=rid,
            position=int(self._position[k]),
            projected_start=now + timedelta(minutes=finish - t),
            projected_finish=now + timedelta(minutes=finish),
            reason=self._explain(k, r, finish),
            moved=s.assigned_to is not None and s.assigned_to != rid,
        )


def placements(assignments: Mapping[int, Assignment]) -> Iterator[tuple[int, int, int]]:
    """(study id, reader id, position) of each assignment, without reading the reasons of a
    plan's `PlannedAssignments`."""
    if isinstance(assignments, PlannedAssignments):
        return assignments.placements()
    return ((a.study_id, a.radiologist_id, a.position) for a in assignments.values())


def as_array(problem: Problem, plan: Plan) -> IntArray:
    """A plan as the solver's array over `problem`'s studies (reader index per study, -1: none)."""
    where = {s.id: k for k, s in enumerate(problem.studies)}
    assign = np.full(problem.n, -1, dtype=np.int64)
    for sid, rid, _ in placements(plan.assignments):
        if sid in where:
            assign[where[sid]] = problem.reader_index[rid]
    return assign
