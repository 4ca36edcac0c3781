"""The mutable search state: each reader's ordered worklist with cached finish times and term sums.

Study indices are worklist-order ranks, so a worklist is a sorted list of ints and an insertion
point is a bisection. Every change keeps the per-term running sums exact, so a move's effect on
the full objective is computed from the two readers it touches.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass
from typing import Any

import numpy as np

from balancer.problem import FloatArray, IntArray, Problem
from balancer.terms import PLACEMENT, READER, fairness

EMPTY = np.zeros(0, dtype=np.int64)
# Worklist tails up to this long are costed in a plain loop (measured faster than numpy's
# per-call overhead below ~24 studies on this kind of machine).
_SHORT = 24


@dataclass(frozen=True, slots=True)
class Kept:
    """Readers' worklists and sums as they were before a change (`State.keep`)."""

    readers: tuple[int, ...]
    study: int
    reader: int  # the study's reader then (-1: none)
    rows: list[tuple[Any, ...]]
    sums: tuple[float, float, int]


class State:
    """An assignment under construction or search, with exact incremental costs.

    The sequence terms (`balancer.terms.SequenceTerm`) are priced together from the problem's
    hinge rows, since a move shifts the finish of every study behind it; every other term
    prices a move itself (`ReaderTerm.delta`, `PlacementTerm.delta`).
    """

    def __init__(self, problem: Problem) -> None:
        self.p = problem
        n, m = problem.n, problem.m
        self.assign: IntArray = np.full(n, -1, dtype=np.int64)
        self.lists: list[list[int]] = [[] for _ in range(m)]
        self.arr: list[IntArray] = [EMPTY] * m
        self.fin: list[FloatArray] = [np.zeros(0)] * m
        t = problem.hinge_start.shape[0]
        self._t = t
        # Per reader, the hinge rows (starts, then weights) gathered in worklist order: a
        # move's delta then slices instead of gathering.
        self._terms = (
            np.concatenate([problem.hinge_start, problem.hinge_weight])
            if n
            else np.zeros((2 * t, 0))
        )
        self.cols: list[FloatArray] = [np.zeros((2 * t, 0))] * m
        # Per study, its (start, weight) pairs with a weight (a routine study has no urgency),
        # made when a move first prices the study: a re-plan touches a few readers' studies.
        self._pairs: list[tuple[tuple[float, float], ...] | None] = [None] * n
        # Per reader, the finish times and pairs as Python lists for short tails (`_shift`),
        # made when first needed after the worklist changed (None until then).
        self._fin_py: list[list[float] | None] = [[] for _ in range(m)]
        self._rows_py: list[list[tuple[tuple[float, float], ...]] | None] = [[] for _ in range(m)]
        self.seq = np.zeros(m, dtype=np.float64)  # the sequence terms per reader
        self.load = problem.busy.copy()
        self.held = problem.base_wrvu.copy()  # wRVU per reader, for the fairness term
        self.used = np.zeros_like(problem.slots)
        self.s1 = float(self.load.sum())
        self.s2 = float((self.load * self.load / problem.capacity).sum()) if m else 0.0
        self.ctot = float(problem.capacity.sum())
        self.moves = 0
        self.placement_terms = tuple(term for term in PLACEMENT if term.active(problem))

    # -- evaluation ---------------------------------------------------------------------------
    def sequence_cost(self, idx: IntArray, finish: FloatArray) -> float:
        """The sequence terms of studies `idx` finishing at `finish`."""
        p = self.p
        over = np.maximum(finish - p.hinge_start[:, idx], 0.0)
        return float((p.hinge_weight[:, idx] * over).sum())

    def _finish(self, r: int, idx: IntArray) -> FloatArray:
        finish: FloatArray = self.p.busy[r] + np.cumsum(self.p.read_times(idx, r))
        return finish

    def allowed(self, k: int, r: int) -> bool:
        """True when reader `r` has room in study `k`'s cap group."""
        g = int(self.p.group[k])
        return g < 0 or self.p.pinned[k] >= 0 or self.used[r, g] < self.p.slots[r, g]

    def _pairs_of(self, k: int) -> tuple[tuple[float, float], ...]:
        """Study `k`'s (start, weight) pairs of the sequence terms with a weight."""
        pairs = self._pairs[k]
        if pairs is None:
            self._make_pairs([k])
            pairs = self._pairs[k]
            assert pairs is not None
        return pairs

    def _make_pairs(self, ks: list[int]) -> None:
        t = self._t
        for k, col in zip(ks, self._terms[:, ks].T.tolist(), strict=True):
            self._pairs[k] = tuple((a, w) for a, w in zip(col[:t], col[t:], strict=True) if w != 0)

    def _one(self, k: int, finish: float) -> float:
        """The sequence terms of study `k` alone, finishing at `finish`."""
        return sum(w * max(finish - a, 0.0) for a, w in self._pairs_of(k))

    def _fin_list(self, r: int) -> list[float]:
        fin = self._fin_py[r]
        if fin is None:
            fin = self._fin_py[r] = self.fin[r].tolist()
        return fin

    def _rows_list(self, r: int) -> list[tuple[tuple[float, float], ...]]:
        rows = self._rows_py[r]
        if rows is None:
            missing = [k for k in self.lists[r] if self._pairs[k] is None]
            if missing:
                self._make_pairs(missing)
            rows = self._rows_py[r] = [self._pairs_of(k) for k in self.lists[r]]
        return rows

    def _shift(self, r: int, pos: int, t: float) -> float:
        """Change of the sequence terms if reader `r`'s studies from `pos` on finish `t`
        minutes later (earlier when negative)."""
        n = len(self.lists[r]) - pos
        if n <= _SHORT:  # numpy's per-call overhead outweighs a short loop
            fin, rows = self._fin_list(r), self._rows_list(r)
            d = 0.0
            for i in range(pos, pos + n):
                fi = fin[i]
                ft = fi + t
                for a, w in rows[i]:
                    if ft > a or fi > a:
                        d += w * (max(ft - a, 0.0) - max(fi - a, 0.0))
            return d
        f = self.fin[r][pos:]
        cols = self.cols[r][:, pos:]
        starts, weights = cols[: self._t], cols[self._t :]
        shift = np.maximum(f + t - starts, 0.0) - np.maximum(f - starts, 0.0)
        return float((weights * shift).sum())

    def insert_delta(self, k: int, r: int) -> float:
        """Change of the sequence terms if study `k` joins reader `r`."""
        lst = self.lists[r]
        pos = bisect_left(lst, k)
        t = self.p.read_time(k, r)
        fin = self.fin[r]
        start = float(fin[pos - 1]) if pos > 0 else float(self.p.busy[r])
        d = self._one(k, start + t)
        if pos < len(lst):
            d += self._shift(r, pos, t)
        return d

    def remove_delta(self, k: int, r: int) -> float:
        """Change of the sequence terms if study `k` leaves reader `r`."""
        lst = self.lists[r]
        pos = bisect_left(lst, k)
        t = self.p.read_time(k, r)
        d = -self._one(k, float(self.fin[r][pos]))
        if pos + 1 < len(lst):
            d += self._shift(r, pos + 1, -t)
        return d

    def others_delta(self, k: int, a: int, b: int) -> float:
        """Change of every term but the sequence ones if study `k` moves from `a` to `b`."""
        d = 0.0
        for term in READER:
            d += term.delta(self, k, a, b)
        for placement in self.placement_terms:
            d += placement.delta(self.p, k, a, b)
        return d

    def excess(self) -> FloatArray:
        """The fairness term's excess per reader."""
        readers = np.arange(self.p.m, dtype=np.int64)
        out: FloatArray = np.asarray(fairness.excess(self.p, self.held, self.load, readers))
        return out

    def place_delta(self, k: int, r: int) -> float:
        """Change of the whole objective if unplaced study `k` joins reader `r`."""
        return self.insert_delta(k, r) + self.others_delta(k, -1, r)

    def move_delta(self, k: int, b: int) -> float:
        """Change of the whole objective if placed study `k` moves to reader `b`."""
        a = int(self.assign[k])
        return self.remove_delta(k, a) + self.insert_delta(k, b) + self.others_delta(k, a, b)

    # -- changes ------------------------------------------------------------------------------
    def _refresh(self, r: int) -> None:
        idx = np.array(self.lists[r], dtype=np.int64)
        self.arr[r] = idx
        self.cols[r] = self._terms[:, idx]
        self.fin[r] = self._finish(r, idx)
        self._fin_py[r] = self._rows_py[r] = None
        self.seq[r] = self.sequence_cost(idx, self.fin[r])

    def _shift_load(self, r: int, dl: float) -> None:
        old = self.load[r]
        self.s1 += dl
        self.s2 += ((old + dl) ** 2 - old * old) / self.p.capacity[r]
        self.load[r] = old + dl

    def add(self, k: int, r: int, *, refresh: bool = True) -> None:
        """Put study `k` on reader `r`'s worklist."""
        lst = self.lists[r]
        lst.insert(bisect_left(lst, k), k)
        self.assign[k] = r
        self._shift_load(r, self.p.read_time(k, r))
        self.held[r] += self.p.fair_wrvu[k]
        g = int(self.p.group[k])
        if g >= 0 and self.p.pinned[k] < 0:
            self.used[r, g] += 1
        if refresh:
            self._refresh(r)

    def remove(self, k: int, *, refresh: bool = True) -> int:
        """Take study `k` off its worklist; returns the reader it was on."""
        r = int(self.assign[k])
        lst = self.lists[r]
        del lst[bisect_left(lst, k)]
        self.assign[k] = -1
        self._shift_load(r, -self.p.read_time(k, r))
        self.held[r] -= self.p.fair_wrvu[k]
        g = int(self.p.group[k])
        if g >= 0 and self.p.pinned[k] < 0:
            self.used[r, g] -= 1
        if refresh:
            self._refresh(r)
        return r

    def add_many(self, ks: IntArray, rs: IntArray) -> None:
        """Put each study of `ks` (unplaced) on the reader at the same place in `rs`, at once,
        and refresh every worklist (a re-plan keeping most of the plan before it)."""
        p = self.p
        if ks.size == 0:
            self.refresh_all()
            return
        self.assign[ks] = rs
        times = p.nominal[ks] * p.inv_speed[rs]
        if p.paced:
            times = times * p.pace[rs, p.kind[ks]]
        self.load += np.bincount(rs, weights=times, minlength=p.m)
        self.held += np.bincount(rs, weights=p.fair_wrvu[ks], minlength=p.m)
        self.s1 = float(self.load.sum())
        self.s2 = float((self.load * self.load / p.capacity).sum())
        counted = (p.group[ks] >= 0) & (p.pinned[ks] < 0)
        np.add.at(self.used, (rs[counted], p.group[ks[counted]]), 1)
        by_reader = np.argsort(rs, kind="stable")  # each reader's studies stay in order
        bounds = np.cumsum(np.bincount(rs, minlength=p.m))
        placed = ks[by_reader].tolist()
        start = 0
        for r, end in enumerate(bounds.tolist()):
            if end > start:
                lst = self.lists[r]
                lst.extend(placed[start:end])
                if lst and len(lst) > end - start:
                    lst.sort()
            start = end
        self.refresh_all()

    def move(self, k: int, b: int) -> None:
        """Move placed study `k` to reader `b`."""
        self.remove(k)
        self.add(k, b)
        self.moves += 1

    def keep(self, readers: tuple[int, ...], k: int) -> Kept:
        """What a move of study `k` between `readers` changes, to put back with `restore`
        (cheaper than the move back: nothing is recomputed)."""
        rs = tuple(sorted(set(r for r in readers if r >= 0)))
        return Kept(
            rs,
            k,
            int(self.assign[k]),
            [
                (
                    list(self.lists[r]),
                    self.arr[r],
                    self.cols[r],
                    self.fin[r],
                    self._fin_py[r],
                    self._rows_py[r],
                    float(self.seq[r]),
                    float(self.load[r]),
                    float(self.held[r]),
                    self.used[r].copy(),
                )
                for r in rs
            ],
            (self.s1, self.s2, self.moves),
        )

    def restore(self, kept: Kept) -> None:
        """Put back what `keep` kept (every change since was to its readers and study)."""
        self.assign[kept.study] = kept.reader
        for r, (lst, *row) in zip(kept.readers, kept.rows, strict=True):
            self.lists[r][:] = lst  # in place: a caller may hold the list
            (
                self.arr[r],
                self.cols[r],
                self.fin[r],
                self._fin_py[r],
                self._rows_py[r],
                self.seq[r],
                self.load[r],
                self.held[r],
                self.used[r],
            ) = row
        self.s1, self.s2, self.moves = kept.sums

    def refresh(self, readers: set[int]) -> None:
        """Recompute the cached worklists of `readers` after changes made with `refresh=False`."""
        for r in sorted(readers):
            self._refresh(r)

    def refresh_all(self) -> None:
        """Recompute every cached worklist after bulk adds with `refresh=False`."""
        for r in range(self.p.m):
            self._refresh(r)

    def utilisation(self) -> FloatArray:
        """Load over remaining capacity, per reader."""
        return self.load / self.p.capacity

    def movable(self, k: int) -> bool:
        """True unless a kept supervisor pin holds study `k`."""
        return bool(self.p.pinned[k] < 0)
