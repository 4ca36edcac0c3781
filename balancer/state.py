"""The mutable search state: each reader's ordered worklist with cached finish times and term sums.

Study indices are worklist-order ranks, so a worklist is a sorted list of ints and an insertion
point is a bisection. Every change keeps the per-term running sums exact, so a move's effect on
the full objective is computed from the two readers it touches.
"""

from __future__ import annotations

from bisect import bisect_left

import numpy as np

from balancer.problem import FloatArray, IntArray, Problem
from balancer.terms import age, balance, fairness, idle, lateness, urgency

EMPTY = np.zeros(0, dtype=np.int64)
# Worklist tails up to this long are costed in a plain loop (measured faster than numpy's
# per-call overhead below ~24 studies on this kind of machine).
_SHORT = 24


class State:
    """An assignment under construction or search, with exact incremental costs."""

    def __init__(self, problem: Problem) -> None:
        self.p = problem
        n, m = problem.n, problem.m
        self.assign: IntArray = np.full(n, -1, dtype=np.int64)
        self.lists: list[list[int]] = [[] for _ in range(m)]
        self.arr: list[IntArray] = [EMPTY] * m
        self.fin: list[FloatArray] = [np.zeros(0)] * m
        # Per reader, the sequence terms' study columns gathered in worklist order (due, aged,
        # late weight, urgency weight): a move's delta then slices instead of gathering.
        self.cols: list[FloatArray] = [np.zeros((4, 0))] * m
        self._terms = (
            np.stack([problem.due, problem.aged, problem.late_weight, problem.urgency_weight])
            if n
            else np.zeros((4, 0))
        )
        self._scalars = [tuple(float(x) for x in row) for row in self._terms.T]
        self._age_w = float(problem.params.weights.age)
        self.fin_py: list[list[float]] = [[] for _ in range(m)]
        self.rows_py: list[list[tuple[float, ...]]] = [[] for _ in range(m)]
        self.seq = np.zeros(m, dtype=np.float64)  # lateness + age per reader
        self.load = problem.busy.copy()
        self.held = problem.base_wrvu.copy()  # wRVU per reader, for the fairness term
        self.used = np.zeros_like(problem.slots)
        self.s1 = float(self.load.sum())
        self.s2 = float((self.load * self.load / problem.capacity).sum()) if m else 0.0
        self.ctot = float(problem.capacity.sum())
        self.moves = 0

    # -- evaluation ---------------------------------------------------------------------------
    def sequence_cost(self, idx: IntArray, finish: FloatArray) -> float:
        """Lateness plus age of studies `idx` finishing at `finish`."""
        p = self.p
        return (
            lateness.cost(p, idx, finish) + age.cost(p, idx, finish) + urgency.cost(p, idx, finish)
        )

    def _finish(self, r: int, idx: IntArray) -> FloatArray:
        finish: FloatArray = self.p.busy[r] + np.cumsum(self.p.nominal[idx] * self.p.inv_speed[r])
        return finish

    def allowed(self, k: int, r: int) -> bool:
        """True when reader `r` has room in study `k`'s cap group."""
        g = int(self.p.group[k])
        return g < 0 or self.p.pinned[k] >= 0 or self.used[r, g] < self.p.slots[r, g]

    def _one(self, k: int, finish: float) -> float:
        """Lateness + age + urgency of study `k` alone, finishing at `finish`."""
        due, aged, lw, uw = self._scalars[k]
        return lw * max(finish - due, 0.0) + self._age_w * max(finish - aged, 0.0) + uw * finish

    def _shift(self, r: int, pos: int, t: float) -> float:
        """Change of lateness + age + urgency if reader `r`'s studies from `pos` on finish `t`
        minutes later (earlier when negative)."""
        n = len(self.lists[r]) - pos
        if n <= _SHORT:  # numpy's per-call overhead outweighs a short loop
            fin, rows = self.fin_py[r], self.rows_py[r]
            age_w, d = self._age_w, 0.0
            for i in range(pos, pos + n):
                fi = fin[i]
                due, aged, lw, uw = rows[i]
                ft = fi + t
                d += uw * t
                if ft > due or fi > due:
                    d += lw * (max(ft - due, 0.0) - max(fi - due, 0.0))
                if ft > aged or fi > aged:
                    d += age_w * (max(ft - aged, 0.0) - max(fi - aged, 0.0))
            return d
        f = self.fin[r][pos:]
        due, aged, lw, uw = self.cols[r][:, pos:]
        late = np.maximum(f + t - due, 0.0) - np.maximum(f - due, 0.0)
        over = np.maximum(f + t - aged, 0.0) - np.maximum(f - aged, 0.0)
        return float(lw @ late) + self._age_w * float(over.sum()) + t * float(uw.sum())

    def insert_delta(self, k: int, r: int) -> float:
        """Change of lateness + age if study `k` joins reader `r` (not balance or the rest)."""
        lst = self.lists[r]
        pos = bisect_left(lst, k)
        t = float(self.p.nominal[k] * self.p.inv_speed[r])
        fin = self.fin[r]
        start = float(fin[pos - 1]) if pos > 0 else float(self.p.busy[r])
        d = self._one(k, start + t)
        if pos < len(lst):
            d += self._shift(r, pos, t)
        return d

    def remove_delta(self, k: int, r: int) -> float:
        """Change of lateness + age if study `k` leaves reader `r`."""
        lst = self.lists[r]
        pos = bisect_left(lst, k)
        t = float(self.p.nominal[k] * self.p.inv_speed[r])
        d = -self._one(k, float(self.fin[r][pos]))
        if pos + 1 < len(lst):
            d += self._shift(r, pos + 1, -t)
        return d

    def balance_delta(self, changes: list[tuple[int, float]]) -> float:
        """Change of the balance and idle terms if reader loads change by the given minutes."""
        cap = self.p.capacity
        s1, s2 = self.s1, self.s2
        d_idle = 0.0
        for r, dl in changes:
            old = self.load[r]
            s1 += dl
            s2 += ((old + dl) ** 2 - old * old) / cap[r]
            d_idle += float(idle.idle(self.p, old + dl, r)) - float(idle.idle(self.p, old, r))
        return (
            balance.from_sums(self.p, s1, s2, self.ctot)
            - balance.from_sums(self.p, self.s1, self.s2, self.ctot)
            + self.p.params.weights.idle * d_idle
        )

    def fairness_delta(self, k: int, a: int, b: int) -> float:
        """Change of the fairness term if study `k` moves from reader `a` (-1: none) to `b`."""
        p = self.p
        w = float(p.fair_wrvu[k])
        d = 0.0
        for r, sign in ((a, -1.0), (b, 1.0)):
            if r < 0:
                continue
            held, load = float(self.held[r]), float(self.load[r])
            t = sign * float(p.nominal[k] * p.inv_speed[r])
            d += float(p.fair_weight[r]) * (
                abs(float(fairness.excess(p, held + sign * w, load + t, r)))
                - abs(float(fairness.excess(p, held, load, r)))
            )
        return d

    def excess(self) -> FloatArray:
        """The fairness term's excess per reader."""
        readers = np.arange(self.p.m, dtype=np.int64)
        out: FloatArray = np.asarray(fairness.excess(self.p, self.held, self.load, readers))
        return out

    def stability_delta(self, k: int, a: int, b: int) -> float:
        """Change of the stability term if study `k` moves from `a` to `b`."""
        prior = self.p.prior[k]
        if prior < 0:
            return 0.0
        return float(self.p.move_price[k]) * (int(b != prior) - int(a != prior))

    def place_delta(self, k: int, r: int) -> float:
        """Change of the whole objective if unplaced study `k` joins reader `r`."""
        t = float(self.p.nominal[k] * self.p.inv_speed[r])
        return (
            self.insert_delta(k, r)
            + self.balance_delta([(r, t)])
            + self.fairness_delta(k, -1, r)
            + self.stability_delta(k, -1, r)
        )

    def move_delta(self, k: int, b: int) -> float:
        """Change of the whole objective if placed study `k` moves to reader `b`."""
        a = int(self.assign[k])
        nominal = float(self.p.nominal[k])
        ta, tb = nominal * self.p.inv_speed[a], nominal * self.p.inv_speed[b]
        return (
            self.remove_delta(k, a)
            + self.insert_delta(k, b)
            + self.balance_delta([(a, -ta), (b, tb)])
            + self.fairness_delta(k, a, b)
            + self.stability_delta(k, a, b)
        )

    # -- changes ------------------------------------------------------------------------------
    def _refresh(self, r: int) -> None:
        idx = np.array(self.lists[r], dtype=np.int64)
        self.arr[r] = idx
        self.cols[r] = self._terms[:, idx]
        self.fin[r] = self._finish(r, idx)
        self.fin_py[r] = self.fin[r].tolist()
        self.rows_py[r] = [self._scalars[k] for k in self.lists[r]]
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
        self._shift_load(r, float(self.p.nominal[k] * self.p.inv_speed[r]))
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
        self._shift_load(r, -float(self.p.nominal[k] * self.p.inv_speed[r]))
        self.held[r] -= self.p.fair_wrvu[k]
        g = int(self.p.group[k])
        if g >= 0 and self.p.pinned[k] < 0:
            self.used[r, g] -= 1
        if refresh:
            self._refresh(r)
        return r

    def move(self, k: int, b: int) -> None:
        """Move placed study `k` to reader `b`."""
        self.remove(k)
        self.add(k, b)
        self.moves += 1

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
