"""Where work may start on a reader without overtaking aged work (the waiting bound's guard).

The waiting bound (`balancer.promote`) forbids younger work ranked behind a study past its age
limit from starting more than `Params.overtake_margin_minutes` before it on a reader who may
read it. Repairing that after the fact is what made the bound cost churn: every re-plan put a
new arrival, or moved a study in the touch-up, onto the reader with room, where it started
ahead of aged work waiting elsewhere, and the repair then promoted that aged work onto the
reader, pushing the newcomer and the work behind it back, and so on along the queues. The
guard stops it where it starts: a placement of study k on reader r is allowed only where k
starts no more than the margin before any aged study ranked ahead of it that r may read.

Kept as, per eligibility class, the running maximum of the class's aged studies' projected
starts in worklist order (study indices are ranks); a reader's answer is the largest of its
classes', one bisection for them all. It is conservative: it does not ask whether the aged
study is older than k, nor whether r is at the cap of its group.

The guard looks at the placed study alone; a move also makes the work behind it on its old
reader start sooner and pushes the work behind it on the new one. `Watch` keeps the exact set
of overtaken studies through moves, so a re-plan's optional moves can be refused when they
leave any study newly overtaken, and the repair can price what each of its moves breaks; and
from one re-plan to the next (`Watch.keep`, a `Memo` the planner keeps), so that a re-plan
counts again only what its event and the clock changed.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from balancer.compiler import micros
from balancer.model import Params, Radiologist
from balancer.problem import FloatArray, IntArray, Problem
from balancer.state import Kept, State

# Minutes the starts may grow by moves before `Watch` lays its keys out again.
SPAN_ROOM = 10_000.0
# Starts (minutes from a fixed origin) this close are the same start: the same projection read
# from two `now`s differs by rounding only.
SAME_START = 1e-6
# A start this close to the limit counts as within it (floating point).
EPS = 1e-6
# Placements (the cold sweep's and a re-plan's) hold the bound with this share of its margin: a
# plan built right at the margin is pushed over it by the drift of projections from one re-plan
# to the next (a read runs over, an idle reader's queue waits while a busy one's is read).
SLACK = 0.5


def starts(state: State) -> FloatArray:
    """Projected start (minutes from now) of every placed study; NaN for unplaced ones."""
    p = state.p
    out = np.full(p.n, np.nan)
    for r in range(p.m):
        idx = state.arr[r]
        if idx.size:
            out[idx] = state.fin[r] - p.read_times(idx, r)
    return out


def start_on(state: State, k: int, r: int) -> float:
    """Where study k would start if it joined (or, on its own reader, stayed on) reader r."""
    lst = state.lists[r]
    pos = bisect_left(lst, k)
    return float(state.fin[r][pos - 1]) if pos else float(state.p.busy[r])


class Frontier:
    """Per reader, the latest start of the aged, unpinned work it may read, by worklist rank.

    Kept per eligibility class (`Problem.elig_class`), not per reader: a class's aged work in
    worklist order with the running maximum of its starts, every class end to end under the
    key `class * (n + 1) + rank`. A reader's answer is the largest of its classes' (one
    bisection for all of them), so building it is one pass over the aged work, not one per
    reader over every aged study's eligibility."""

    def __init__(self, state: State) -> None:
        self.state = state
        self.margin = state.p.params.overtake_margin_minutes * SLACK
        self.klass, self.class_may = classes(state.p)
        # Per reader, the classes it may read.
        rs, cs = np.nonzero(self.class_may.T)
        cut = np.searchsorted(rs, np.arange(state.p.m + 1))
        self.reader_classes = [cs[cut[r] : cut[r + 1]] for r in range(state.p.m)]
        self.refresh()

    def refresh(self) -> None:
        """Recompute from the state as it stands (after moves)."""
        p = self.state.p
        start = starts(self.state)
        self._start = start
        self._slack: FloatArray | None = None
        with np.errstate(invalid="ignore"):
            aged = np.flatnonzero((start > p.aged) & (p.pinned < 0))
        aged = aged[np.argsort(self.klass[aged], kind="stable")]  # by class, then rank
        cls = self.klass[aged]
        self.key = cls * (p.n + 1) + aged
        # Where each class's run begins (and, one past the last class, where the runs end).
        self.begin = np.searchsorted(cls, np.arange(self.class_may.shape[0] + 1))
        peak = start[aged]
        for c in np.unique(cls).tolist():
            lo, hi = int(self.begin[c]), int(self.begin[c + 1])
            peak[lo:hi] = np.maximum.accumulate(peak[lo:hi])
        self.peak = peak

    def earliest(self, k: int, r: int) -> float:
        """The soonest study k may start on reader r without overtaking aged work by more than
        the margin (minus infinity when no aged work ranked ahead of it may go to r)."""
        cs = self.reader_classes[r]
        # The last aged study of each class ranked ahead of k, if it is of that class.
        last = np.searchsorted(self.key, cs * (self.state.p.n + 1) + k) - 1
        last = last[last >= self.begin[cs]]
        return float(self.peak[last].max()) - self.margin if last.size else -np.inf

    def allows(self, k: int, r: int) -> bool:
        """Whether study k may join reader r (at its place in r's order) under the bound."""
        return start_on(self.state, k, r) >= self.earliest(k, r) - EPS

    def shortfall(self, k: int, r: int) -> float:
        """How many minutes too soon study k would start on reader r (0 when it may)."""
        return max(self.earliest(k, r) - start_on(self.state, k, r), 0.0)

    def places(self, k: int, cand: IntArray) -> IntArray:
        """The readers of `cand` where placing study k holds the bound best: it overtakes no
        aged work (else the least); past its age limit, it starts within the slack of its
        soonest start (else it is overtaken itself); it pushes the fewest aged studies behind
        it over the margin (each would be a repair, and each repair pushes others)."""
        p = self.state.p
        when = np.array([start_on(self.state, k, int(r)) for r in cand])
        earliest = np.array([self.earliest(k, int(r)) for r in cand])
        short = np.maximum(earliest - when, 0.0)
        keep = short <= short.min() + EPS
        cand, when = cand[keep], when[keep]
        soonest = float(when.min())
        if soonest > p.aged[k]:
            near = when <= soonest + self.margin
            cand = cand[near]
        if self._slack is None:
            self._slack = slack_of(self.state, self._start)
        slack = self._slack
        pushed = np.array([pushed_over(self.state, k, int(r), slack) for r in cand])
        out: IntArray = cand[pushed == pushed.min()]
        return out


def classes(p: Problem) -> tuple[IntArray, npt.NDArray[np.bool_]]:
    """Each study's eligibility class and each class's `may_read` row (`Problem.elig_class`;
    found from `may_read` itself for a problem built without them)."""
    if p.elig_class.size == p.n and p.class_may.shape[1] == p.m:
        return p.elig_class, p.class_may
    rows, klass = np.unique(p.may_read.reshape(p.n, p.m), axis=0, return_inverse=True)
    return klass.reshape(-1).astype(np.int64), rows.reshape(-1, p.m)


def pushed_over(state: State, k: int, r: int, slack: FloatArray) -> int:
    """How many aged studies behind study k's place on reader r its read time would push past
    the margin (`slack`: minutes each may still be pushed back)."""
    idx = state.arr[r]
    pos = int(np.searchsorted(idx, k))
    if pos >= idx.size:
        return 0
    return int((slack[idx[pos:]] < state.p.read_time(k, r)).sum())


def slack_of(state: State, start: FloatArray) -> FloatArray:
    """Per placed study past its age limit, how much later it may start before work ranked
    behind it on a reader who may read it starts more than the margin before it (infinite for
    the rest). Conservative: any work ranked behind counts, younger or not. Per eligibility
    class: the soonest start of the work ranked behind each study among the readers of the
    class."""
    p = state.p
    out = np.full(p.n, np.inf)
    with np.errstate(invalid="ignore"):
        aged = np.flatnonzero((start > p.aged) & (p.pinned < 0))
    if aged.size == 0:
        return out
    klass, class_may = classes(p)
    on = state.assign
    placed = on >= 0
    front = np.full(p.n, np.inf)
    cls = klass[aged]
    for c in np.unique(cls).tolist():
        theirs = placed & class_may[c, np.maximum(on, 0)]
        # The soonest start among the class's readers' work from each rank on (one past the
        # last rank: none).
        suffix = np.append(
            np.minimum.accumulate(np.where(theirs, start, np.inf)[::-1])[::-1], np.inf
        )
        sel = aged[cls == c]
        front[sel] = suffix[sel + 1]
    out[aged] = p.params.overtake_margin_minutes - (start[aged] - front[aged])
    return out


def room(state: State, ks: IntArray | int, rs: IntArray | int) -> npt.NDArray[np.bool_]:
    """Whether each reader may take each study now as far as caps go (`ks` and `rs` broadcast:
    many studies on one reader, or one study on many readers): a reader at the cap of a study's
    group (one that holds for it) may not, so its younger work does not count against the study
    (the cap is a rule the bound yields to); on its own reader a study has room."""
    p = state.p
    k, r = np.asarray(ks), np.asarray(rs)
    shape = np.broadcast_shapes(k.shape, r.shape)
    if p.slots.shape[1] == 0:  # no caps
        return np.ones(shape, dtype=np.bool_)
    g = p.group[k]
    full = (g >= 0) & (state.used[r, np.maximum(g, 0)] >= p.slots[r, np.maximum(g, 0)])
    out = ~full | (state.assign[k] == r) | np.isfinite(p.over_price[k])
    return np.broadcast_to(out, shape)


def range_max(values: FloatArray, lo: IntArray, hi: IntArray) -> FloatArray:
    """max(values[lo[i]:hi[i]]) for each i (every range non-empty)."""
    padded = np.append(values, -np.inf)  # reduceat needs an index past the last range
    bounds = np.empty(2 * lo.size, dtype=np.int64)
    bounds[0::2], bounds[1::2] = lo, hi
    out: FloatArray = np.maximum.reduceat(padded, bounds)[0::2]
    return out


class Watch:
    """The waiting bound's violations, kept exact while a re-plan moves studies one at a time.

    `overtaken` (the studies the bound is broken for, as `promote.overtaken` counts them) is
    computed once from the state (or carried from the last re-plan's memo, see `_carry`);
    after that a move is checked only where it can change the
    answer: aged work that the source reader may read (its work behind the study now starts
    sooner), the work behind the study's new place (it starts later), the study itself, and aged
    work the target reader may read (the study may overtake it there); and the studies already
    overtaken, which a move may relieve. Every reader's worklist is laid end to end, reader by
    reader, with keys that stay sorted across readers (`reader * (n + 1) + rank` and
    `reader * span + start`), so every (study, reader) question of all of them is answered by
    two bisections and a range maximum at once, with no loop over readers.
    """

    def __init__(
        self, state: State, memo: Memo | None = None, revised: set[int] | None = None
    ) -> None:
        """The watch of `state`; with the `memo` a watch left at the last re-plan (`keep`)
        and the ids of the studies changed since in more than their reader (`revised`), only
        what changed is counted again (`_carry`), else every aged study on every reader."""
        self.state = state
        p = state.p
        self.margin = p.params.overtake_margin_minutes
        self.start = starts(state)
        with np.errstate(invalid="ignore"):
            self.aged = (self.start > p.aged) & (p.pinned < 0)
        self._lay_out()
        # Each overtaken study with a reader it is overtaken on: while neither that reader's
        # worklist nor the study's start changes, it stays overtaken (caps change with them).
        carried = self._carry(memo, revised) if memo is not None and revised is not None else None
        if carried is None:
            aged = np.flatnonzero(self.aged)
            carried = _pairs(aged, self._witness(aged))
        self.witness: dict[int, int] = carried

    @property
    def over(self) -> set[int]:
        """The studies the bound is broken for."""
        return set(self.witness)

    # -- kept between re-plans ----------------------------------------------------------------
    def keep(self) -> Memo:
        """What the next re-plan's watch needs to count only what changed: per reader its
        worklist (study ids), their starts from a fixed origin (this snapshot's `now`), and
        the cap groups it is full in; and the overtaken studies with their readers, by id."""
        state, p = self.state, self.state.p
        snap = p.snapshot
        ids = _ids(p)
        roster = {r.id: r for r in snap.radiologists}
        full = state.used >= p.slots
        readers = {
            rid: (roster[rid], ids[state.arr[r]], self.start[state.arr[r]], full[r].tobytes())
            for r, rid in enumerate(p.reader_ids)
        }
        return Memo(
            origin_us=micros(snap.now),
            params=p.params,
            caps=(dict(snap.caps), dict(snap.cap_bends)),
            groups=list(p.group_names),
            readers=readers,
            pinned=frozenset(ids[p.pinned >= 0].tolist()),
            aged=np.sort(ids[self.aged]),
            witness={int(ids[k]): p.reader_ids[r] for k, r in self.witness.items()},
        )

    def _carry(self, memo: Memo, revised: set[int]) -> dict[int, int] | None:
        """The overtaken studies from the memo of the last re-plan, checked again only where
        something changed (None when too much did: count afresh).

        Every time here is minutes from `now`, which moves; from a fixed origin (the memo's)
        whether a study is overtaken on a reader depends only on the starts, the worklist order
        and ready times, eligibility and caps. A reader is *changed* when its record, its
        worklist, its full cap groups or one of its studies (revised, pinned or not) differ
        from the memo's, or its starts moved by different amounts; an unchanged reader's starts
        all moved by one `drift` (0 while its read under way keeps to its projection; as much
        as the clock when it is idle; more when that read runs over). A study on a changed
        reader, or whose age limit it crossed, is counted afresh. Of the rest, one overtaken
        before stays so while the reader it was overtaken on is unchanged and drifted no
        later than its own; one not overtaken before can only have become so on a changed
        reader, or on an unchanged one that drifted less than its own, through work there
        that now starts just past the margin before it and did not before (`_drifted`)."""
        state, p = self.state, self.state.p
        snap = p.snapshot
        if (
            memo.params != p.params
            or memo.caps != (dict(snap.caps), dict(snap.cap_bends))
            or memo.groups != p.group_names
        ):
            return None
        ids = _ids(p)
        shift = (micros(snap.now) - memo.origin_us) / 60e6  # minutes from the memo's origin
        roster = {r.id: r for r in snap.radiologists}
        full = state.used >= p.slots
        pinned = set(ids[p.pinned >= 0].tolist())
        other = revised | (pinned ^ memo.pinned)
        odd = np.zeros(p.n, dtype=np.bool_)
        if other:
            odd = np.isin(ids, np.fromiter(other, dtype=np.int64, count=len(other)))
        on = state.assign
        placed = on >= 0
        changed = np.zeros(p.m, dtype=np.bool_)
        changed[on[placed & odd]] = True
        drift = np.zeros(p.m)
        for r, rid in enumerate(p.reader_ids):
            old = memo.readers.get(rid)
            idx = state.arr[r]
            if changed[r] or old is None or old[0] != roster[rid] or old[3] != full[r].tobytes():
                changed[r] = True
            elif idx.size:
                if old[1].size != idx.size or not np.array_equal(old[1], ids[idx]):
                    changed[r] = True
                    continue
                moved = self.start[idx] + shift - old[2]
                lo, hi = float(moved.min()), float(moved.max())
                changed[r] = hi - lo > SAME_START
                drift[r] = hi
        if changed.sum() * 2 > p.m:
            return None  # most readers changed: the full count is as cheap
        fresh = odd.copy()
        fresh[placed] |= changed[on[placed]]
        was_aged = np.isin(ids, memo.aged)
        fresh |= self.aged != was_aged
        afresh = self.aged & fresh
        own = np.where(placed, drift[np.maximum(on, 0)], 0.0)
        witness: dict[int, int] = {}
        if memo.witness:
            index_of = dict(zip(ids.tolist(), range(p.n), strict=True))
            for sid, rid in memo.witness.items():
                at, by = index_of.get(sid), p.reader_index.get(rid)
                if at is None or not self.aged[at] or fresh[at]:
                    continue
                if by is None or changed[by] or drift[by] > own[at] + SAME_START:
                    afresh[at] = True
                else:
                    witness[at] = by
        ks = np.flatnonzero(afresh)
        witness.update(_pairs(ks, self._witness(ks)))
        rest = self.aged & ~fresh
        rest[list(witness)] = False
        ks, rs = np.flatnonzero(rest), np.flatnonzero(changed)
        if ks.size and rs.size:
            rows, cols = np.nonzero(p.may_read[ks][:, rs])
            self._confirm(ks[rows], rs[cols], witness)
        self._drifted(np.flatnonzero(rest), changed, drift, witness)
        return witness

    def _drifted(
        self, ks: IntArray, changed: npt.NDArray[np.bool_], drift: FloatArray, out: dict[int, int]
    ) -> None:
        """Of the unchanged studies `ks` not overtaken before, those overtaken now on an
        unchanged reader that drifted less than theirs: such a reader's work j ranked behind
        study s overtakes it only if it starts more than the margin before s now and did not
        before, so its start lies within the difference of the drifts below s's start less
        the margin; only those (s, reader) pairs are checked."""
        state, p = self.state, self.state.p
        if ks.size == 0:
            return
        own = drift[state.assign[ks]]
        steady = ~changed
        if own.max() <= drift[steady].min() + SAME_START:
            return  # no study's reader drifted later than another's
        # The work of unchanged readers, by start.
        js = np.flatnonzero((state.assign >= 0) & steady[np.maximum(state.assign, 0)])
        js = js[np.argsort(self.start[js], kind="stable")]
        j_start = self.start[js]
        j_drift = drift[state.assign[js]]
        width = float(own.max() - j_drift.min())
        at = self.start[ks] - self.margin
        lo = np.searchsorted(j_start, at - width - SAME_START, side="left")
        hi = np.searchsorted(j_start, at, side="left")
        count = hi - lo
        if count.sum() == 0:
            return
        s = np.repeat(np.arange(ks.size), count)
        j = np.arange(int(count.sum())) - np.repeat(np.cumsum(count) - count, count)
        j = js[lo[s] + j]
        k = ks[s]
        gap = own[s] - drift[state.assign[j]]
        keep = (
            (gap > SAME_START)
            & (self.start[j] + gap >= at[s] - SAME_START)
            & (j > k)
            & (p.ready[j] > p.ready[k])
        )
        pairs = np.unique(np.stack([k[keep], state.assign[j[keep]]]), axis=1)
        self._confirm(pairs[0], pairs[1], out)

    def _confirm(self, ks: IntArray, rs: IntArray, out: dict[int, int]) -> None:
        """Add to `out` each study of `ks` overtaken on the reader at the same place in `rs`."""
        hit = self._hit(ks, rs)
        out.update(zip(ks[hit].tolist(), rs[hit].tolist(), strict=True))

    # -- layout -------------------------------------------------------------------------------
    def _lay_out(self) -> None:
        """Every worklist end to end, with its keys (after a change of most of them)."""
        state, p = self.state, self.state.p
        sizes = np.array([a.size for a in state.arr], dtype=np.int64)
        self.ptr = np.concatenate([[0], np.cumsum(sizes)])
        self.idx = np.concatenate(state.arr) if p.m else np.zeros(0, dtype=np.int64)
        top = float(np.nanmax(self.start)) if self.idx.size else 0.0
        # Room for the starts to grow by moves before the keys of two readers could meet.
        self.span = top + SPAN_ROOM
        reader = np.repeat(np.arange(p.m, dtype=np.int64), sizes)
        self.rank_key = reader * (p.n + 1) + self.idx
        self.start_key = reader * self.span + np.maximum(self.start[self.idx], 0.0)
        self.ready = p.ready[self.idx]

    def _splice(self, readers: list[int]) -> None:
        """Lay out again only the worklists of `readers` (sorted), the rest copied."""
        state, p = self.state, self.state.p
        cut = [0]
        news: list[tuple[IntArray, IntArray, FloatArray, FloatArray]] = []
        for r in readers:
            idx = state.arr[r]
            if idx.size and float(self.start[idx[-1]]) >= self.span - self.margin:
                self._lay_out()  # the keys would run into the next reader's
                return
            news.append(
                (
                    idx,
                    r * (p.n + 1) + idx,
                    r * self.span + np.maximum(self.start[idx], 0.0),
                    p.ready[idx],
                )
            )
            cut += [int(self.ptr[r]), int(self.ptr[r + 1])]
        cut.append(self.idx.size)
        parts: list[list[npt.NDArray[np.generic]]] = [[], [], [], []]
        for i, old in enumerate((self.idx, self.rank_key, self.start_key, self.ready)):
            for j, new in enumerate(news):
                parts[i] += [old[cut[2 * j] : cut[2 * j + 1]], new[i]]
            parts[i].append(old[cut[-2] : cut[-1]])
        self.idx, self.rank_key, self.start_key, self.ready = (
            np.concatenate(parts[0]),
            np.concatenate(parts[1]),
            np.concatenate(parts[2]),
            np.concatenate(parts[3]),
        )
        sizes = np.diff(self.ptr)
        for r in readers:
            sizes[r] = state.arr[r].size
        self.ptr = np.concatenate([[0], np.cumsum(sizes)])

    def _aged(self) -> IntArray:
        out: IntArray = np.flatnonzero(self.aged)
        return out

    # -- questions ----------------------------------------------------------------------------
    def _hit(self, ks: IntArray, rs: IntArray) -> npt.NDArray[np.bool_]:
        """For each pair, whether younger work ranked behind study ks[i] on reader rs[i] starts
        more than the margin before it (the reader may read it and has room for it)."""
        ok = self.state.p.may_read[ks, rs] & room(self.state, ks, rs)
        ks, rs = ks[ok], rs[ok]
        out = np.zeros(ok.shape, dtype=np.bool_)
        if ks.size == 0:
            return out
        lo = np.searchsorted(self.rank_key, rs * (self.state.p.n + 1) + ks, side="right")
        until = rs * self.span + np.maximum(self.start[ks] - self.margin, 0.0)
        # Most pairs end here: the first work ranked behind the study on that reader (the
        # soonest of it) starts within the margin, or there is none (the next reader's keys).
        some = np.flatnonzero(np.append(self.start_key, np.inf)[lo] < until)
        hit = np.zeros(ks.shape, dtype=np.bool_)
        if some.size:
            hi = np.searchsorted(self.start_key, until[some], side="left")
            top = range_max(self.ready, lo[some], hi)
            hit[some] = top > self.state.p.ready[ks[some]]
        out[ok] = hit
        return out

    def _witness(self, ks: IntArray) -> IntArray:
        """For each study of `ks`, a reader it is overtaken on, or -1."""
        p = self.state.p
        out: IntArray = np.full(ks.size, -1, dtype=np.int64)
        if ks.size == 0:
            return out
        rows, rs = np.nonzero(p.may_read[ks])
        hit = self._hit(ks[rows], rs.astype(np.int64))
        out[rows[hit]] = rs[hit]
        return out

    # -- moves --------------------------------------------------------------------------------
    def _apply(self, k: int, b: int) -> int:
        state = self.state
        a = int(state.assign[k])
        state.move(k, b)
        self._refresh((a, b))
        return a

    def _refresh(self, readers: tuple[int, ...]) -> None:
        state, p = self.state, self.state.p
        for r in set(readers):
            idx = state.arr[r]
            if idx.size:
                self.start[idx] = state.fin[r] - p.read_times(idx, r)
                self.aged[idx] = (self.start[idx] > p.aged[idx]) & (p.pinned[idx] < 0)
        self._splice(sorted(set(readers)))

    def broken(self, k: int, a: int, b: int) -> tuple[dict[int, int], set[int], dict[int, int]]:
        """After study k moved from reader a to b (already applied; a == b when k was just
        placed): the studies newly overtaken (with a reader that shows it), those of
        `overtaken` no longer, and those of `overtaken` still, checked again (with theirs)."""
        p = self.state.p
        start = self.start
        was = np.array(sorted(self.witness), dtype=np.int64)
        fresh = self.aged.copy()
        fresh[was] = False
        late = start - self.margin
        # k on b may overtake aged work b may read, ranked ahead of it, older, starting more
        # than the margin after it (b's other work only starts later).
        near = np.flatnonzero(
            fresh[:k] & p.may_read[:k, b] & (late[:k] > start[k]) & (p.ready[:k] < p.ready[k])
        )
        new = dict.fromkeys(near[room(self.state, near, b)].tolist(), b) if near.size else {}
        if a != b:
            # a's work behind k's old place starts sooner: aged work a may read that starts
            # more than the margin after the first of it (or all of it, when a has room for
            # k's cap group again and its whole worklist now counts).
            idx = self.state.arr[a]
            pos = int(np.searchsorted(idx, k))
            g = int(p.group[k])
            reopened = g >= 0 and self.state.used[a, g] == p.slots[a, g] - 1
            if pos < idx.size or reopened:
                first = start[idx[pos]] if pos < idx.size else np.inf
                mask = late > first
                if reopened:
                    mask |= p.group == g
                cand = np.flatnonzero(fresh & p.may_read[:, a] & mask)
                hit = self._hit(cand, np.full(cand.size, a, dtype=np.int64))
                new.update(dict.fromkeys(cand[hit].tolist(), a))
        # The work behind k's new place starts later, and k starts elsewhere; and the studies
        # overtaken before that the move may have relieved: those on a or b (they start at
        # another time) or overtaken on a or b (only those worklists and caps changed).
        idx = self.state.arr[b]
        behind = idx[np.searchsorted(idx, k) :]
        behind = behind[fresh[behind]]
        shown = np.array([self.witness[w] for w in was.tolist()], dtype=np.int64)
        on = self.state.assign[was]
        was = was[(shown == a) | (shown == b) | (on == a) | (on == b)]
        both = np.concatenate([behind, was])
        witness = self._witness(both)
        new.update(_pairs(behind, witness[: behind.size]))
        kept = witness[behind.size :]
        kept[~self.aged[was]] = -1
        return new, set(was[kept < 0].tolist()), _pairs(was, kept)

    def try_move(self, k: int, b: int, allowed: int = 0) -> bool:
        """Move study k to reader b unless that leaves more than `allowed` studies newly
        overtaken; keeps `overtaken` exact either way."""
        a = int(self.state.assign[k])
        undo = self._keep(k, a, b)
        self._apply(k, b)
        new, relieved, kept = self.broken(k, a, b)
        if len(new) > allowed:
            self._restore(undo)
            return False
        self._settle(new, relieved, kept)
        return True

    def _settle(self, new: dict[int, int], relieved: set[int], kept: dict[int, int]) -> None:
        for w in relieved:
            del self.witness[w]
        self.witness.update(kept)
        self.witness.update(new)

    def price(self, k: int, b: int) -> tuple[int, int]:
        """(newly overtaken, relieved) if study k moved to reader b; the state is unchanged."""
        a = int(self.state.assign[k])
        kept = self._keep(k, a, b)
        self._apply(k, b)
        new, relieved, _ = self.broken(k, a, b)
        self._restore(kept)
        return len(new), len(relieved)

    def _keep(self, k: int, a: int, b: int) -> _Undo:
        """What moving study k from reader a to b changes, to put back with `_restore`."""
        state = self.state
        touched = np.concatenate([state.arr[a], state.arr[b]])
        return _Undo(
            state.keep((a, b), k),
            touched,
            self.start[touched],
            self.aged[touched],
            (self.idx, self.rank_key, self.start_key, self.ready, self.ptr),
            self.span,
        )

    def _restore(self, undo: _Undo) -> None:
        self.state.restore(undo.state)
        self.start[undo.touched] = undo.start
        self.aged[undo.touched] = undo.aged
        self.idx, self.rank_key, self.start_key, self.ready, self.ptr = undo.layout
        self.span = undo.span

    def price_place(self, k: int, b: int) -> int:
        """How many studies placing unplaced study k on reader b would leave newly overtaken
        (those it relieves are not counted: placing work relieves none); the state is
        unchanged."""
        self.state.add(k, b)
        self._refresh((b,))
        new, _, _ = self.broken(k, b, b)
        self.state.remove(k)
        self._refresh((b,))
        return len(new)

    def place(self, k: int, b: int) -> None:
        """Keep `overtaken` exact after unplaced study k was put on reader b (by the caller)."""
        self._refresh((b,))
        self._settle(*self.broken(k, b, b))


@dataclass(frozen=True, slots=True)
class _Undo:
    """A watch's and its state's arrays as they were before a move (`Watch._keep`)."""

    state: Kept
    touched: IntArray  # the studies whose start and age the move may change
    start: FloatArray
    aged: npt.NDArray[np.bool_]
    layout: tuple[npt.NDArray[Any], ...]  # the worklists laid end to end, and their keys
    span: float


@dataclass(frozen=True, slots=True)
class Memo:
    """What a `Watch` leaves for the next re-plan's (`Watch.keep`): its readers' worklists and
    starts, minutes from `origin_us` (the snapshot's `now`, epoch microseconds), and the
    overtaken studies, all by id."""

    origin_us: int
    params: Params
    caps: tuple[dict[str, int], dict[str, float]]  # the snapshot's caps and cap bends
    groups: list[str]  # cap group names by index
    # Per reader id: its record, its worklist's study ids in order, their starts, and its full
    # cap groups (the `used >= slots` row as bytes).
    readers: dict[int, tuple[Radiologist, IntArray, FloatArray, bytes]]
    pinned: frozenset[int]  # studies a pin held
    aged: IntArray  # studies past their age limit (sorted ids)
    witness: dict[int, int]  # overtaken study id -> a reader id it is overtaken on


@dataclass(slots=True)
class Keeper:
    """A `Memo` kept by a planner from one re-plan to the next (None: count afresh)."""

    memo: Memo | None = None


def _ids(p: Problem) -> IntArray:
    """Every study's id, by index."""
    return np.fromiter((s.id for s in p.studies), dtype=np.int64, count=p.n)


def _pairs(ks: IntArray, readers: IntArray) -> dict[int, int]:
    """{study: reader} for the studies with a reader (not -1)."""
    some = readers >= 0
    return dict(zip(ks[some].tolist(), readers[some].tolist(), strict=True))
