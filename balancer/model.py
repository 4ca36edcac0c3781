"""The balancer's value objects: a snapshot of the department in, a plan out (ids, not rows)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Literal

from domain.enums import PatientClass, Priority, RadiologistStatus, Subspecialty


def _no_paces() -> Mapping[str, float]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Study:
    """An unread study as the balancer sees it, with the rules already applied by the caller.

    `subspecialty` is the *required* credential (a rule may override the procedure's); `due_at`
    is the turnaround deadline after rules. `read_minutes` is the expected read time at the
    department's reference pace (`Params.reference_wrvu_per_hour`). Studies sharing a
    `reader_group` (a rule's same-patient grouping) are kept on one reader where one may read
    them all (`balancer.terms.together`). `procedure_group` is the kind of work a reader's
    learned pace is kept for (`Radiologist.paces`; the live department: the modality).
    """

    id: int
    subspecialty: Subspecialty
    site_id: int
    priority: Priority
    patient_class: PatientClass
    wrvu: float
    read_minutes: float
    ready_at: datetime
    due_at: datetime
    assigned_to: int | None = None
    opened_by: int | None = None
    opened_at: datetime | None = None
    pinned_to: int | None = None
    allowed_radiologists: frozenset[int] | None = None
    excluded_radiologists: frozenset[int] = frozenset()
    cap_group: str | None = None
    reader_group: str | None = None
    patient_id: int | None = None
    procedure_group: str | None = None


@dataclass(frozen=True, slots=True)
class Radiologist:
    """A reader: credentials, privileges valid at snapshot time, shift, status and pace.

    `wrvu_read` is the wRVU of the reads this reader has signed in the current shift and
    `minutes_on_duty` the minutes of that shift so far: the fairness term balances the wRVU a
    reader has earned against the capacity they have had (`wrvu_per_hour` x hours on duty), so
    a reader who is ahead is given lower-density work and one who is behind higher.
    `preferred_subspecialties` is the work the reader is best used on (the live department: the
    subspecialty credentials they hold beyond GENERAL); the preference term prices their
    other work (`balancer.terms.preference`). Empty: no preference.
    `paces` maps a procedure group to the reader's expected read time there over what their
    overall pace projects (`balancer.paces`, learned from their signed reads); a group not
    named reads at their overall pace.
    """

    id: int
    subspecialties: frozenset[Subspecialty]
    site_privileges: frozenset[int]
    status: RadiologistStatus
    shift_start: datetime | None
    shift_end: datetime | None
    wrvu_per_hour: float
    wrvu_read: float = 0.0
    minutes_on_duty: float = 0.0
    preferred_subspecialties: frozenset[Subspecialty] = frozenset()
    paces: Mapping[str, float] = field(default_factory=_no_paces, hash=False)


def _frozen(mapping: Mapping[str, int] | None = None) -> Mapping[str, int]:
    return MappingProxyType(dict(mapping or {}))


def _frozen_prices() -> Mapping[str, float]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Everything the balancer may look at, frozen at `now`.

    `studies` holds every unread study: waiting, assigned, pinned or already opened.
    `caps` maps a study's `cap_group` to the most studies of that group one reader may hold.
    `cap_bends` maps a cap group whose cap bends for STAT to the price (minutes-equivalent, in
    the objective as `over_cap`) of each study a reader holds over it: a STAT no arrangement
    within the caps can place goes over a cap rather than to nobody. A group not named holds
    its cap for every study.
    """

    now: datetime
    studies: tuple[Study, ...]
    radiologists: tuple[Radiologist, ...]
    caps: Mapping[str, int] = field(default_factory=_frozen)
    cap_bends: Mapping[str, float] = field(default_factory=_frozen_prices)


class Weights(Mapping[str, float]):
    """Relative weight of each objective term (all terms are expressed in minutes).

    One weight per registered term (`balancer.terms.TERMS`), read as `weights.lateness` or
    `weights["lateness"]`; a term not named keeps its default.
    """

    __slots__ = ("_values",)
    _values: dict[str, float]

    def __init__(self, **weights: float) -> None:
        from balancer.terms import DEFAULT_WEIGHTS

        unknown = sorted(weights.keys() - DEFAULT_WEIGHTS.keys())
        if unknown:
            raise TypeError(f"no objective term named {', '.join(unknown)}")
        values = {name: float(weights.get(name, w)) for name, w in DEFAULT_WEIGHTS.items()}
        object.__setattr__(self, "_values", values)

    def __getattr__(self, name: str) -> float:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Weights are frozen")

    def __getitem__(self, name: str) -> float:
        return self._values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Weights) and self._values == other._values

    def __hash__(self) -> int:
        return hash(tuple(self._values.items()))

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in self._values.items())
        return f"Weights({inner})"

    def __reduce__(self) -> tuple[Callable[[dict[str, float]], Weights], tuple[dict[str, float]]]:
        return (_weights_from, (dict(self._values),))

    def replace(self, **changes: float) -> Weights:
        """These weights with some changed."""
        return Weights(**{**self._values, **changes})


def _weights_from(values: dict[str, float]) -> Weights:
    """Weights from a plain dict (unpickling, copying)."""
    return Weights(**values)


def _default_priority_weights() -> Mapping[Priority, float]:
    return MappingProxyType({Priority.STAT: 10.0, Priority.URGENT: 3.0, Priority.ROUTINE: 1.0})


def _default_urgency() -> Mapping[Priority, float]:
    return MappingProxyType({Priority.STAT: 10.0, Priority.URGENT: 0.2, Priority.ROUTINE: 0.03})


def _default_age_limits() -> Mapping[Priority, float]:
    return MappingProxyType({Priority.STAT: 15.0, Priority.URGENT: 30.0})


def _default_stability_share() -> Mapping[Priority, float]:
    return MappingProxyType({Priority.STAT: 0.1, Priority.URGENT: 0.3})


def _default_tiers() -> Mapping[Priority, int]:
    return MappingProxyType({Priority.STAT: 0, Priority.URGENT: 1, Priority.ROUTINE: 2})


Mode = Literal["fast", "improve"]


@dataclass(frozen=True, slots=True)
class Params:
    """How to trade the objective terms off, and how long to search.

    `age_limit_minutes`: a study waiting longer than this is promoted (its effective due time
    is `ready_at + age_limit`) and every further minute of waiting costs `weights.age`;
    `age_limit_by_priority` lowers the limit for a priority. Urgent work is then read in
    arrival order once it has waited that long: earliest-due-first let ED studies (due in 60
    min) keep overtaking an inpatient URGENT (due in 120) at night, which then waited longest.
    `stability_share` scales the stability price per priority: moving an unopened STAT to a
    reader who will start it sooner is what the department wants, not churn.
    `time_limit_s` bounds a re-plan (most studies keep their reader), `cold_time_limit_s` a plan
    that has to place most studies (a cold start) of up to `cold_time_limit_studies` studies; a
    larger cold start gets that budget in proportion to its studies (`cold_budget_s`: its
    sweeps take time in proportion to them). A cold start sweeps at
    most `sweeps` times after its first, fewer when they stop improving or would end past the
    budget, then searches. `large_event_time_limit_s` bounds a re-plan that has
    to place many but keeps most (a leaver with a long list, a burst of STATs);
    `mode="improve"` then hands the fast plan to CP-SAT as a complete hint for
    `improve_time_limit_s` more. `priority_tiers` orders worklists: a lower tier is always
    read first, and within a tier the earliest effective due time goes first.
    `fairness_floor` is the share of `weights.fairness` a reader's fairness carries at the start
    of their shift; it grows in step with the shift to all of it at the end (early on the credit
    says little and turnaround decides; late there is most to even out and least time to do it).
    `fairness_priorities` are the priorities whose wRVU the fairness term weighs: a study of
    another priority counts at the department's pace, putting its reader neither ahead nor
    behind, so evening out the shift never decides who reads urgent work.
    `overtake_margin_minutes`: a study past its age limit may be overtaken by younger work
    ranked behind it (the same or a lower tier, due later) on a reader who may read it by at
    most this much (`waiting` counts what is left; a pinned study and a reader at the cap of
    the study's group do not count: the bound yields to pins and caps). `hold_overtake_bound`
    makes the planner hold it: the cold sweep places aged work within the margin, a re-plan
    places and moves work only where it overtakes no aged work (`balancer.frontier`), the
    neighbourhood search refuses answers that break it, and `promote` repairs the rest, to
    the end (docs/balancer.md).
    `feed_idle`: a reader with nothing to read (no open read, an empty worklist) is given a
    study they may read that waits on another reader's list, whatever the move costs in the
    objective (`improve.feed_idle`), and the neighbourhood search leaves no fed reader idle
    again. Off by default: on the simulated day it gave more idle-with-work minutes, not
    fewer, and a wider wRVU spread (docs/balancer.md).
    """

    weights: Weights = field(default_factory=Weights)
    priority_weights: Mapping[Priority, float] = field(default_factory=_default_priority_weights)
    age_limit_minutes: float = 180.0
    age_limit_by_priority: Mapping[Priority, float] = field(default_factory=_default_age_limits)
    stability_share: Mapping[Priority, float] = field(default_factory=_default_stability_share)
    reference_wrvu_per_hour: float = 8.0
    time_limit_s: float = 0.08
    cold_time_limit_s: float = 2.0
    cold_time_limit_studies: int = 10_000
    large_event_time_limit_s: float = 0.3
    sweeps: int = 16
    mode: Mode = "fast"
    improve_time_limit_s: float = 10.0
    priority_tiers: Mapping[Priority, int] = field(default_factory=_default_tiers)
    urgency_per_minute: Mapping[Priority, float] = field(default_factory=_default_urgency)
    idle_horizon_minutes: float = 30.0
    fairness_floor: float = 0.3
    fairness_priorities: frozenset[Priority] = frozenset({Priority.ROUTINE})
    overtake_margin_minutes: float = 30.0
    hold_overtake_bound: bool = False
    feed_idle: bool = False

    def cold_budget_s(self, studies: int) -> float:
        """Seconds a cold start of `studies` studies may take: `cold_time_limit_s`, in
        proportion above `cold_time_limit_studies`."""
        return self.cold_time_limit_s * max(1.0, studies / max(self.cold_time_limit_studies, 1))

    def age_limit(self, priority: Priority) -> float:
        """Minutes a study of this priority may wait before it is promoted."""
        return min(self.age_limit_minutes, self.age_limit_by_priority.get(priority, float("inf")))


@dataclass(frozen=True, slots=True)
class Assignment:
    """One study on one reader's worklist, at `position` (0 = read next), with the why."""

    study_id: int
    radiologist_id: int
    position: int
    projected_start: datetime
    projected_finish: datetime
    reason: str
    moved: bool = False


@dataclass(frozen=True, slots=True)
class Plan:
    """The balancer's answer: who reads what in which order, what cannot be placed, and why."""

    assignments: Mapping[int, Assignment]
    unassignable: Mapping[int, str]
    objective: Mapping[str, float]
    formulation: str
    duration_ms: float

    def worklist(self, radiologist_id: int) -> tuple[Assignment, ...]:
        """The reader's ordered worklist, next study first."""
        items = [a for a in self.assignments.values() if a.radiologist_id == radiologist_id]
        return tuple(sorted(items, key=lambda a: a.position))

    def moved(self) -> frozenset[int]:
        """Studies whose reader differs from the snapshot's `assigned_to`."""
        return frozenset(a.study_id for a in self.assignments.values() if a.moved)


class ViolationCode(StrEnum):
    """What a plan can get wrong; `validate` names each breach with one of these."""

    UNKNOWN_STUDY = "UNKNOWN_STUDY"
    UNKNOWN_RADIOLOGIST = "UNKNOWN_RADIOLOGIST"
    DROPPED = "DROPPED"
    DOUBLE_BOOKED = "DOUBLE_BOOKED"
    INELIGIBLE = "INELIGIBLE"
    OPENED_MOVED = "OPENED_MOVED"
    PIN_BROKEN = "PIN_BROKEN"
    CAP_EXCEEDED = "CAP_EXCEEDED"
    BAD_POSITION = "BAD_POSITION"
    BAD_ORDER = "BAD_ORDER"
    WRONGLY_UNASSIGNABLE = "WRONGLY_UNASSIGNABLE"
    NOT_MAXIMUM = "NOT_MAXIMUM"


@dataclass(frozen=True, slots=True)
class Violation:
    """One way a plan breaks a hard rule."""

    code: ViolationCode
    message: str
    study_id: int | None = None
    radiologist_id: int | None = None
