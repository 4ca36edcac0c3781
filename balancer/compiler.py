"""The snapshot compiled incrementally: what each study contributes is read once and kept.

A `Compiler` keeps, per study id, the study's row (its times as integer microseconds, read
minutes, wRVU, priority, eligibility key, cap group, pin and reader) between re-plans. A new
snapshot is compared study by study with the one before; only a study that is new or changed
(a read opened, a new reader, a pin) is read again, and the problem's arrays are then assembled
from the rows with numpy: the times from `now`, the worklist order, the eligibility from one
reader list per (subspecialty, site), the readers' figures from the roster. The assembly is the
same code whether the rows are fresh or kept, so a kept compiler gives exactly the problem a
fresh one does (tested after a sequence of events).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from datetime import UTC, datetime, timedelta
from operator import attrgetter

import numpy as np
import numpy.typing as npt

from balancer.eligibility import on_shift, unassignable_reason
from balancer.model import Params, Radiologist, Snapshot, Study
from balancer.problem import MIN_CAPACITY_MINUTES as MIN_CAPACITY
from balancer.problem import (
    FloatArray,
    IntArray,
    Problem,
    fairness_weight,
    finish_compiling,
    minutes,
    remaining_read,
    shift_credit,
    shift_pace,
)
from domain.enums import Priority, RadiologistStatus, Subspecialty

_EPOCH_AWARE = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_NAIVE = datetime(1970, 1, 1)
_MICROSECOND = timedelta(microseconds=1)
_PRIORITIES = list(Priority)
# A study's every field as one tuple: comparing it with the kept one is the change test.
_FIELDS = attrgetter(*(f.name for f in fields(Study)))
# Where the current reader sits in `_FIELDS`: a study that changed only there is the same study
# to the waiting bound's kept watch (its reader's worklist shows the change).
_READER = [f.name for f in fields(Study)].index("assigned_to")
# Kept rows of studies gone from the snapshot are dropped once they outnumber the live ones.
_STALE_SHARE = 1.0


def micros(at: datetime) -> int:
    """`at` as integer microseconds since the epoch (naive and aware datetimes alike)."""
    return (at - (_EPOCH_NAIVE if at.tzinfo is None else _EPOCH_AWARE)) // _MICROSECOND


def _minutes_from(at_us: IntArray, now_us: int) -> FloatArray:
    """Minutes from `now_us` to each time: the same float `problem.minutes` gives (an exact
    integer difference, divided as timedelta.total_seconds divides it)."""
    out: FloatArray = (at_us - now_us).astype(np.float64) / 1e6 / 60.0
    return out


class _Rows:
    """Per study, the columns the problem is assembled from, by slot (grown as needed)."""

    def __init__(self) -> None:
        self.slot: dict[int, int] = {}
        self.study: list[Study] = []
        self.fields: list[tuple[object, ...]] = []  # _FIELDS of each study as read
        size = 0
        self.id = np.zeros(size, dtype=np.int64)
        self.due_us = np.zeros(size, dtype=np.int64)
        self.ready_us = np.zeros(size, dtype=np.int64)
        self.read_minutes = np.zeros(size, dtype=np.float64)
        self.wrvu = np.zeros(size, dtype=np.float64)
        self.priority = np.zeros(size, dtype=np.int64)
        self.key = np.zeros(size, dtype=np.int64)  # (subspecialty, site) code
        self.limited = np.zeros(size, dtype=np.bool_)  # a rule allows or excludes readers
        self.group = np.zeros(size, dtype=np.int64)  # cap group code, -1: none
        self.pinned_to = np.zeros(size, dtype=np.int64)  # -1: none
        self.assigned_to = np.zeros(size, dtype=np.int64)  # -1: none
        self.opened = np.zeros(size, dtype=np.bool_)
        self.keys: dict[tuple[Subspecialty, int], int] = {}
        self.groups: dict[str, int] = {}

    def _grow(self) -> None:
        size = max(1024, 2 * self.id.size)
        for name in (
            "id",
            "due_us",
            "ready_us",
            "read_minutes",
            "wrvu",
            "priority",
            "key",
            "limited",
            "group",
            "pinned_to",
            "assigned_to",
            "opened",
        ):
            old = getattr(self, name)
            new = np.zeros(size, dtype=old.dtype)
            new[: old.size] = old
            setattr(self, name, new)

    def store(self, study: Study, slot: int | None) -> int:
        """Write the study's row (into its old slot, or a new one); returns the slot."""
        if slot is None:
            slot = len(self.study)
            if slot >= self.id.size:
                self._grow()
            self.study.append(study)
            self.fields.append(_FIELDS(study))
            self.slot[study.id] = slot
        else:
            self.study[slot] = study
            self.fields[slot] = _FIELDS(study)
        self.id[slot] = study.id
        self.due_us[slot] = micros(study.due_at)
        self.ready_us[slot] = micros(study.ready_at)
        self.read_minutes[slot] = study.read_minutes
        self.wrvu[slot] = study.wrvu
        self.priority[slot] = _PRIORITIES.index(study.priority)
        self.key[slot] = self.keys.setdefault((study.subspecialty, study.site_id), len(self.keys))
        self.limited[slot] = study.allowed_radiologists is not None or bool(
            study.excluded_radiologists
        )
        group = study.cap_group
        self.group[slot] = -1 if group is None else self.groups.setdefault(group, len(self.groups))
        self.pinned_to[slot] = -1 if study.pinned_to is None else study.pinned_to
        self.assigned_to[slot] = -1 if study.assigned_to is None else study.assigned_to
        self.opened[slot] = study.opened_by is not None
        return slot


class Compiler:
    """Compiles snapshots into problems, keeping each study's row from one to the next."""

    def __init__(self) -> None:
        self._rows = _Rows()
        self._reasons: dict[int, tuple[object, str]] = {}  # slot -> (roster key, reason)
        self.reread = 0  # studies read again by the last `compile` (new or changed)
        # Ids of the studies the last `compile` found new or changed in more than their reader.
        self.revised: set[int] = set()

    def compile(self, snapshot: Snapshot, params: Params) -> Problem:
        """The problem for `snapshot`: equal to `problem.compile_problem`'s, reading again only
        the studies that are new or changed since the last call."""
        rows = self._rows
        if len(rows.slot) > (1.0 + _STALE_SHARE) * len(snapshot.studies) + 1024:
            self._rows = rows = _Rows()
            self._reasons.clear()
        reread = 0
        revised: set[int] = set()
        slots: list[int] = []
        kept, read = rows.study, rows.fields
        for study in snapshot.studies:
            slot = rows.slot.get(study.id)
            if slot is None or (kept[slot] is not study and read[slot] != _FIELDS(study)):
                if slot is None or not _moved_only(read[slot], _FIELDS(study)):
                    revised.add(study.id)
                slot = rows.store(study, slot)
                self._reasons.pop(slot, None)
                reread += 1
            slots.append(slot)
        self.reread = reread
        self.revised = revised
        return _assemble(rows, np.array(slots, dtype=np.int64), snapshot, params, self._reasons)


def _moved_only(before: tuple[object, ...], after: tuple[object, ...]) -> bool:
    """Whether two readings of a study differ in nothing but its current reader."""
    return before[:_READER] == after[:_READER] and before[_READER + 1 :] == after[_READER + 1 :]


def _roster(snapshot: Snapshot) -> tuple[list[Radiologist], dict[int, int]]:
    """The readers who may take work now (on shift, available), and their indices by id."""
    now = snapshot.now
    active = [
        r
        for r in snapshot.radiologists
        if on_shift(r, now) and r.status is RadiologistStatus.AVAILABLE
    ]
    return active, {r.id: i for i, r in enumerate(active)}


def _key_readers(
    rows: _Rows, active: Sequence[Radiologist]
) -> tuple[list[IntArray], npt.NDArray[np.bool_]]:
    """Per eligibility key: the indices of the active readers it allows (roster order), and
    the same as a [key, reader] matrix."""
    matrix = np.zeros((len(rows.keys), len(active)), dtype=np.bool_)
    for (subspecialty, site), code in rows.keys.items():
        for i, r in enumerate(active):
            matrix[code, i] = subspecialty in r.subspecialties and site in r.site_privileges
    return [np.flatnonzero(row).astype(np.int64) for row in matrix], matrix


def _assemble(
    rows: _Rows,
    slots: IntArray,
    snapshot: Snapshot,
    params: Params,
    reasons: dict[int, tuple[object, str]],
) -> Problem:
    """The problem from the rows of the snapshot's studies (`slots`, in snapshot order)."""
    now = snapshot.now
    now_us = micros(now)
    active, reader_index = _roster(snapshot)
    m = len(active)
    ref = params.reference_wrvu_per_hour
    inv_speed = np.array([ref / r.wrvu_per_hour for r in active], dtype=np.float64)
    capacity = np.array(
        [max(MIN_CAPACITY, minutes(r.shift_end, now)) if r.shift_end else 0.0 for r in active],
        dtype=np.float64,
    )
    inv_speed_of = {r.id: ref / r.wrvu_per_hour for r in snapshot.radiologists}
    group_codes = sorted(
        (name, code) for name, code in rows.groups.items() if name in snapshot.caps
    )
    present = np.zeros(len(rows.groups) + 1, dtype=np.bool_)
    present[rows.group[slots]] = True  # the code -1 lands on the spare last entry
    group_codes = [(name, code) for name, code in group_codes if present[code]]
    groups = [name for name, _ in group_codes]
    group_of = np.full(len(rows.groups) + 1, -1, dtype=np.int64)  # code -> group index
    for gi, (_, code) in enumerate(group_codes):
        group_of[code] = gi
    slots_left = np.zeros((m, len(groups)), dtype=np.int64)
    for gi, name in enumerate(groups):
        slots_left[:, gi] = snapshot.caps[name]

    # Opened studies: their reader's busy minutes and cap room (read first, never moved).
    busy = np.zeros(m, dtype=np.float64)
    opened: dict[int, list[Study]] = {}
    for slot in slots[rows.opened[slots]].tolist():
        study = rows.study[slot]
        rid = study.opened_by
        assert rid is not None
        opened.setdefault(rid, []).append(study)
        r = reader_index.get(rid)
        if r is not None:
            spent = minutes(now, study.opened_at) if study.opened_at else 0.0
            need = study.read_minutes * inv_speed_of.get(rid, 1.0)
            if study.procedure_group is not None:
                need *= active[r].paces.get(study.procedure_group, 1.0)
            busy[r] += remaining_read(need, spent)
            gi = int(group_of[rows.group[slot]])
            if gi >= 0:
                slots_left[r, gi] -= 1
    for held in opened.values():
        held.sort(key=lambda s: (s.opened_at or now, s.id))

    # Eligibility: one reader list per (subspecialty, site), filtered for the few studies a
    # rule limits.
    by_key, key_matrix = _key_readers(rows, active)
    waiting = slots[~rows.opened[slots]]
    limited: dict[int, IntArray] = {}
    for slot in waiting[rows.limited[waiting]].tolist():
        study = rows.study[slot]
        allowed, excluded = study.allowed_radiologists, study.excluded_radiologists
        base = by_key[int(rows.key[slot])]
        limited[slot] = np.array(
            [
                i
                for i in base.tolist()
                if (allowed is None or active[i].id in allowed) and active[i].id not in excluded
            ],
            dtype=np.int64,
        )
    counts = np.array([a.size for a in by_key], dtype=np.int64)[rows.key[waiting]]
    for j in np.flatnonzero(rows.limited[waiting]).tolist():
        counts[j] = limited[int(waiting[j])].size
    movable_slots = waiting[counts > 0]
    unassignable: dict[int, str] = {}
    if (counts == 0).any():
        roster_key = tuple(
            (r.id, r.subspecialties, r.site_privileges, on_shift(r, now), r.status)
            for r in snapshot.radiologists
        )
        for slot in waiting[counts == 0].tolist():
            cached = reasons.get(slot)
            if cached is None or cached[0] != roster_key:
                why = unassignable_reason(rows.study[slot], snapshot.radiologists, now)
                cached = reasons[slot] = (roster_key, why)
            unassignable[int(rows.id[slot])] = cached[1]

    # Worklist order (ordering.sort_key): tier, effective due, ready time, id.
    tiers = params.priority_tiers
    tier_of = np.array([tiers.get(p, 1) for p in _PRIORITIES], dtype=np.int64)
    limit_of = np.array([params.age_limit(p) for p in _PRIORITIES], dtype=np.float64)
    prio = rows.priority[movable_slots]
    due_all = _minutes_from(rows.due_us[movable_slots], now_us)
    ready_all = _minutes_from(rows.ready_us[movable_slots], now_us)
    aged_all = ready_all + limit_of[prio]
    tier_all = tier_of[prio]
    order = np.lexsort((rows.id[movable_slots], ready_all, np.minimum(due_all, aged_all), tier_all))
    ordered = movable_slots[order]
    n = ordered.size
    studies = [rows.study[s] for s in ordered.tolist()]
    keys = rows.key[ordered]
    eligible = [by_key[c] for c in keys.tolist()]
    may_read = key_matrix[keys] if n else np.zeros((0, m), dtype=np.bool_)
    few = np.flatnonzero(rows.limited[ordered])
    for k in few.tolist():
        eligible[k] = limited[int(ordered[k])]
        may_read[k] = False
        may_read[k, eligible[k]] = True
    elig_class = keys.astype(np.int64)
    elig_class[few] = key_matrix.shape[0] + np.arange(few.size)
    class_may = np.concatenate([key_matrix, may_read[few]]) if few.size else key_matrix
    nominal = rows.read_minutes[ordered].copy()
    wrvu = rows.wrvu[ordered].copy()
    pace = shift_pace(active)
    if pace is None:  # no one has a shift behind them yet: the density of the work waiting
        density = float(wrvu.sum() / nominal.sum()) if n and nominal.sum() > 0 else 0.0
        pace = density * 60.0 / params.reference_wrvu_per_hour
    charge = pace * np.array([r.wrvu_per_hour for r in active], dtype=np.float64) / 60.0
    base_wrvu = shift_credit(active, pace)
    counted = np.array([p in params.fairness_priorities for p in _PRIORITIES], dtype=np.bool_)
    fair_wrvu = np.where(counted[rows.priority[ordered]], wrvu, pace * nominal * ref / 60.0)
    fair_weight = np.array([fairness_weight(r, now, params) for r in active], dtype=np.float64)
    for rid, held in opened.items():
        r = reader_index.get(rid)
        if r is not None:
            base_wrvu[r] += sum(s.wrvu for s in held)
    group = group_of[rows.group[ordered]]
    bends = snapshot.cap_bends
    group_price = np.array([float(bends.get(g, np.inf)) for g in groups], dtype=np.float64)
    stat = rows.priority[ordered] == _PRIORITIES.index(Priority.STAT)
    over_price = np.where(
        stat & (group >= 0), group_price[np.maximum(group, 0)] if groups else np.inf, np.inf
    ).astype(np.float64)

    # Readers by id -> index (-1: not active), for the pins and current readers.
    top = int(
        max(rows.assigned_to[ordered].max(initial=-1), rows.pinned_to[ordered].max(initial=-1))
    )
    lookup = np.full(max(top, max(reader_index, default=0)) + 2, -1, dtype=np.int64)
    for rid, i in reader_index.items():
        lookup[rid] = i
    current = lookup[rows.assigned_to[ordered]]  # -1 stays -1: the spare last entry
    prior = np.where(current >= 0, current, -1)
    if n:
        prior[(current >= 0) & ~may_read[np.arange(n), np.maximum(current, 0)]] = -1
    pinned = np.full(n, -1, dtype=np.int64)
    lapsed: dict[int, str] = {}
    for k in np.flatnonzero(rows.pinned_to[ordered] >= 0).tolist():
        study = studies[k]
        rid = int(rows.pinned_to[ordered[k]])
        r = int(lookup[rid])
        gi = int(group[k])
        if r < 0 or not may_read[k, r]:
            lapsed[study.id] = f"pin to radiologist {rid} lapsed: not eligible now"
        elif gi >= 0 and slots_left[r, gi] <= 0:
            lapsed[study.id] = f"pin to radiologist {rid} lapsed: cap reached"
        else:
            pinned[k] = r
            if gi >= 0:
                slots_left[r, gi] -= 1

    problem = Problem(
        snapshot=snapshot,
        params=params,
        reader_ids=[r.id for r in active],
        reader_index=reader_index,
        inv_speed=inv_speed,
        capacity=capacity,
        busy=busy,
        studies=studies,
        nominal=nominal,
        due=due_all[order],
        aged=aged_all[order],
        ready=ready_all[order],
        tier=tier_all[order],
        base_wrvu=base_wrvu,
        charge=charge,
        fair_weight=fair_weight,
        fair_wrvu=np.asarray(fair_wrvu, dtype=np.float64),
        eligible=eligible,
        may_read=may_read,
        prior=prior,
        pinned=pinned,
        group=group,
        slots=slots_left,
        over_price=over_price,
        group_price=group_price,
        opened=opened,
        unassignable=unassignable,
        lapsed_pins=lapsed,
        group_names=groups,
        elig_class=elig_class,
        class_may=class_may,
    )
    finish_compiling(problem, active)
    return problem
