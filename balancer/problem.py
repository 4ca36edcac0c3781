"""The snapshot compiled into arrays: readers and movable studies by index, minutes from now."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from balancer.model import Params, Radiologist, Snapshot, Study
from balancer.terms import PLACEMENT, SEQUENCE

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

# A reader whose shift ends within this many minutes still counts this much capacity, so that
# balance against remaining capacity does not divide by (nearly) zero.
MIN_CAPACITY_MINUTES = 15.0


# A read that has run longer than expected is projected to need at least this share of the
# time it has already taken: read times have a long right tail, and projecting an overrunning
# read as finishing "now" parked STAT work behind it (seen in the simulator: a STAT waited nine
# minutes behind a read projected every minute to end at once, with 19 other readers eligible).
# The share stops growing at one more full read: a read left open for hours or days (a session
# left open, a reader called away who did not hand it back) said nothing more about when its
# reader is free, and projecting a fifth of its age put the demo department's STAT behind a
# read opened four days before, projected to start 804 minutes later while another reader who
# may read it started lower-tier work within the hour.
OVERRUN_SHARE = 0.2


def remaining_read(need: float, spent: float) -> float:
    """Minutes an opened read is projected to need: what is left of `need`, or once that runs
    short, a share of the `spent` minutes it has already taken, at most `need` again."""
    return max(need - spent, min(OVERRUN_SHARE * max(spent, 0.0), need))


def minutes(later: datetime, earlier: datetime) -> float:
    """Minutes from `earlier` to `later` (negative when `later` is before)."""
    return (later - earlier).total_seconds() / 60.0


@dataclass(slots=True)
class Problem:
    """Arrays the construction, search and CP-SAT model share; study index = worklist order rank."""

    snapshot: Snapshot
    params: Params
    reader_ids: list[int]
    reader_index: dict[int, int]
    inv_speed: FloatArray  # minutes per reference minute, per reader
    capacity: FloatArray  # remaining shift minutes, per reader
    busy: FloatArray  # minutes left on studies already opened, per reader
    studies: list[Study]  # movable studies (not opened, with an eligible reader), in key order
    nominal: FloatArray  # read minutes at the reference pace
    due: FloatArray  # minutes from now
    aged: FloatArray  # minutes from now until the age limit is reached
    ready: FloatArray  # minutes from now since the study was ready (negative: in the past)
    tier: IntArray  # priority tier (lower is read first)
    base_wrvu: FloatArray  # per reader: the shift's wRVU credit plus opened studies' wRVU
    charge: FloatArray  # per reader: wRVU per minute of their time at the department's pace
    fair_weight: FloatArray  # per reader: the fairness term's weight, by how far into the shift
    fair_wrvu: FloatArray  # per study: the wRVU the fairness term counts for it
    eligible: list[IntArray]  # reader indices per study
    may_read: npt.NDArray[np.bool_]  # [study, reader] eligibility as a matrix
    prior: IntArray  # reader index of a still-valid current assignment, else -1
    pinned: IntArray  # reader index of a kept supervisor pin, else -1
    group: IntArray  # cap group index, else -1
    slots: IntArray  # [reader, group] studies the reader may still take in the group
    # Per study: the price of holding it over its cap group's cap (a STAT of a group whose cap
    # bends for STAT, `Snapshot.cap_bends`), else inf (the cap holds).
    over_price: FloatArray
    group_price: FloatArray  # per cap group: that price, else inf
    opened: dict[int, list[Study]]  # reader id -> opened studies, read first
    unassignable: dict[int, str]
    lapsed_pins: dict[int, str]
    # The sequence terms (balancer.terms.SEQUENCE, in order) as rows: per study the time from
    # which each costs and its weight per minute past it.
    hinge_start: FloatArray = field(default_factory=lambda: np.zeros((0, 0)))
    hinge_weight: FloatArray = field(default_factory=lambda: np.zeros((0, 0)))
    # What each placement term prepared for its prices, by term name.
    term_data: dict[str, Any] = field(default_factory=dict)
    # Learned paces (balancer.paces): per study its procedure group's column, per reader and
    # column the factor on the reader's overall pace; column 0 (no learned pace) is all 1.0.
    # `paced` is False when no reader has one, and read times skip the look-up.
    kind: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    pace: FloatArray = field(default_factory=lambda: np.ones((0, 1)))
    paced: bool = False
    # Eligibility classes: studies of one class have the same `may_read` row, which is
    # `class_may[class]` (one class per (subspecialty, site), one per study a rule limits), so
    # questions over "every reader who may read it" can be asked per class, not per reader.
    group_names: list[str] = field(default_factory=list)  # per cap group index, its name
    elig_class: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    class_may: npt.NDArray[np.bool_] = field(
        default_factory=lambda: np.zeros((0, 0), dtype=np.bool_)
    )

    @property
    def n(self) -> int:
        """Number of movable studies."""
        return len(self.studies)

    @property
    def m(self) -> int:
        """Number of readers who may take work now."""
        return len(self.reader_ids)

    def read_time(self, k: int, r: int) -> float:
        """Minutes reader `r` is expected to need for study `k`."""
        if self.paced:
            return float(self.nominal[k] * self.inv_speed[r] * self.pace[r, self.kind[k]])
        return float(self.nominal[k] * self.inv_speed[r])

    def read_times(self, idx: IntArray | list[int] | slice, r: int) -> FloatArray:
        """Minutes reader `r` is expected to need for each of the studies `idx`."""
        times: FloatArray = self.nominal[idx] * self.inv_speed[r]
        if self.paced:
            times = times * self.pace[r, self.kind[idx]]
        return times

    def times_on(self, k: int, readers: IntArray) -> FloatArray:
        """Minutes each of `readers` is expected to need for study `k`."""
        times: FloatArray = self.nominal[k] * self.inv_speed[readers]
        if self.paced:
            times = times * self.pace[readers, self.kind[k]]
        return times

    def learned_pace(self, k: int, r: int) -> float:
        """Reader `r`'s learned factor on their overall pace for study `k`'s group (1.0: none)."""
        return float(self.pace[r, self.kind[k]]) if self.paced else 1.0


def compile_problem(snapshot: Snapshot, params: Params) -> Problem:
    """Resolve eligibility, pins and caps once and lay the movable studies out in worklist order."""
    from balancer.compiler import Compiler  # it assembles this module's Problem

    return Compiler().compile(snapshot, params)


def finish_compiling(problem: Problem, active: list[Radiologist]) -> None:
    """The terms' rows and the learned paces, from the problem's arrays."""
    n = problem.n
    hinges = [term.hinge(problem) for term in SEQUENCE]
    shape = (len(SEQUENCE), n)
    problem.hinge_start = np.array([h[0] for h in hinges], dtype=np.float64).reshape(shape)
    problem.hinge_weight = np.array([h[1] for h in hinges], dtype=np.float64).reshape(shape)
    _lay_out_paces(problem, active)
    for term in PLACEMENT:
        term.prepare(problem)


def _lay_out_paces(problem: Problem, active: list[Radiologist]) -> None:
    """The readers' learned paces as the `kind` / `pace` arrays (`paced` when any exists)."""
    n = problem.n
    groups = sorted({g for r in active for g in r.paces})
    problem.kind = np.zeros(n, dtype=np.int64)
    problem.pace = np.ones((len(active), len(groups) + 1), dtype=np.float64)
    if not groups:
        return
    column = {g: i + 1 for i, g in enumerate(groups)}
    problem.kind = np.array(
        [column.get(s.procedure_group or "", 0) for s in problem.studies], dtype=np.int64
    )
    for r, reader in enumerate(active):
        for g, factor in reader.paces.items():
            problem.pace[r, column[g]] = factor
    problem.paced = bool(np.any(problem.pace != 1.0))


def fairness_weight(reader: Radiologist, now: datetime, params: Params) -> float:
    """The fairness weight on `reader` now: `fairness_floor` of the full weight at the start of
    the shift, growing in step with it to the full weight at its end (full when unknown)."""
    full = params.weights.fairness
    if reader.shift_start is None or reader.shift_end is None:
        return full
    span = minutes(reader.shift_end, reader.shift_start)
    done = min(1.0, max(0.0, minutes(now, reader.shift_start) / span)) if span > 0 else 1.0
    floor = params.fairness_floor
    return full * (floor + (1.0 - floor) * done)


def shift_pace(readers: list[Radiologist]) -> float | None:
    """The department's wRVU read this shift per wRVU of capacity on duty (None before any)."""
    done = sum(r.wrvu_read for r in readers)
    capacity = sum(r.wrvu_per_hour * max(r.minutes_on_duty, 0.0) / 60.0 for r in readers)
    return done / capacity if capacity > 0 and done > 0 else None


def shift_credit(readers: list[Radiologist], pace: float) -> FloatArray:
    """Per reader, wRVU read this shift above their share at the department's pace.

    The share is `pace` (the department's wRVU read per wRVU of capacity, `shift_pace`) times
    the reader's own capacity so far (wRVU per hour x hours on duty), so the credits sum to
    zero: a reader ahead (who read denser work, or more of it) is positive.
    """
    done = np.array([r.wrvu_read for r in readers], dtype=np.float64)
    capacity = np.array(
        [r.wrvu_per_hour * max(r.minutes_on_duty, 0.0) / 60.0 for r in readers], dtype=np.float64
    )
    credit: FloatArray = done - pace * capacity
    return credit
