"""A department's day, drawn once per seed: arrivals, read-time noise and a roster in shifts.

Every policy replays the same day: the same studies arrive at the same minutes and each read
takes the same time whoever does it (scaled by the reader's pace), so differences in the
results come from the policy alone.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from balancer.model import Radiologist, Study
from balancer.simulation.department import EPOCH, SITES, make_reader, make_study, primaries
from domain.enums import Modality, PatientClass, RadiologistStatus, Subspecialty

# Relative arrivals per hour of day: quiet nights, a morning peak above the day shift's reach.
HOURLY = (
    0.35,
    0.3,
    0.25,
    0.25,
    0.25,
    0.3,
    0.45,
    0.8,
    1.2,
    1.45,
    1.5,
    1.45,
    1.3,
    1.25,
    1.25,
    1.2,
    1.1,
    1.0,
    0.9,
    0.8,
    0.7,
    0.6,
    0.5,
    0.4,
)
# Shift templates: (start hour, length hours, share of the roster). Night and swing shifts
# wrap past midnight, so the same readers also cover the small hours (the previous night).
SHIFTS = ((7, 12, 0.50), (11, 12, 0.20), (13, 12, 0.10), (19, 12, 0.20))
BREAK_MINUTES = 45
# Projections use the catalogue time; the real read varies around it by this much (log-sd).
NOISE_SIGMA = 0.25
# Radiography dominates a general department's volume.
XR_BOOST = 2.5
# Night and swing readers cover everything an ED or a ward sends, at every site.
GENERALIST = frozenset(Subspecialty) - {Subspecialty.BREAST}
# Outpatient studies are acquired in the day only.
OUTPATIENT_HOURS = range(7, 20)


@dataclass(frozen=True, slots=True)
class Window:
    """One stretch on shift, in minutes from the start of the simulated day, with its break."""

    start: float
    end: float
    break_start: float
    break_end: float


@dataclass(frozen=True, slots=True)
class SimReader:
    """A reader of the roster: credentials and pace, and when they are on shift."""

    reader: Radiologist
    windows: tuple[Window, ...]

    def window(self, t: float) -> Window | None:
        """The shift window containing minute `t`, if any."""
        for w in self.windows:
            if w.start <= t < w.end:
                return w
        return None

    def status(self, t: float) -> RadiologistStatus:
        """Available, on break or off at minute `t`."""
        w = self.window(t)
        if w is None:
            return RadiologistStatus.OFF
        if w.break_start <= t < w.break_end:
            return RadiologistStatus.ON_BREAK
        return RadiologistStatus.AVAILABLE

    def on_duty_minutes(self, horizon: float) -> float:
        """Minutes available for reading (breaks excluded) between 0 and `horizon`."""
        total = 0.0
        for w in self.windows:
            total += max(0.0, min(w.end, horizon) - max(w.start, 0.0))
            total -= max(0.0, min(w.break_end, horizon) - max(w.break_start, 0.0))
        return total


@dataclass(frozen=True, slots=True)
class Scenario:
    """The day to replay."""

    seed: int
    start: datetime
    day_minutes: int
    studies: tuple[Study, ...]  # by ready time
    ready_min: tuple[float, ...]
    noise: tuple[float, ...]  # read-time factor per study, same for every policy
    roster: tuple[SimReader, ...]
    read_scale: float  # catalogue read minutes were scaled by this to hit the capacity ratio

    def at(self, minute: float) -> datetime:
        """The wall-clock time of a simulated minute."""
        return self.start + timedelta(minutes=minute)


def _windows(rng: random.Random, start_h: int, length_h: int) -> tuple[Window, ...]:
    out = []
    for day in (-1, 0, 1):  # the previous night's tail, today, and tomorrow to drain the queue
        s = (day * 24 + start_h) * 60 + rng.choice((0, 0, 15, 30))
        e = s + length_h * 60
        b = s + length_h * 60 * 0.45 + rng.randint(-30, 30)
        if e > 0:
            out.append(Window(float(s), float(e), float(b), float(b + BREAK_MINUTES)))
    return tuple(out)


def build(
    seed: int, *, studies: int = 10_000, readers: int = 60, capacity_ratio: float = 1.1
) -> Scenario:
    """The day for `seed`: `studies` arrivals over 24 h, `readers` in shifts, capacity scaled."""
    rng = random.Random(seed)
    roster: list[SimReader] = []
    kinds = [t for t in SHIFTS for _ in range(round(t[2] * readers))][:readers]
    while len(kinds) < readers:
        kinds.append(SHIFTS[0])
    for i, (kind, primary) in enumerate(zip(kinds, primaries(rng, readers), strict=True)):
        subs, sites, rate = make_reader(rng, i + 1, primary)
        if kind[0] >= 13:
            subs, sites = subs | GENERALIST, frozenset(SITES)
        reader = Radiologist(i + 1, subs, sites, RadiologistStatus.OFF, None, None, rate)
        roster.append(SimReader(reader, _windows(rng, kind[0], kind[1])))

    # Arrival minutes: hour by profile, uniform within the hour.
    minutes = sorted(
        rng.choices(range(24), weights=HOURLY)[0] * 60 + rng.random() * 60 for _ in range(studies)
    )
    day: list[Study] = []
    for i, m in enumerate(minutes):
        daytime = int(m // 60) in OUTPATIENT_HOURS
        while True:
            study, proc = make_study(rng, i + 1, EPOCH + timedelta(minutes=m))
            if study.patient_class is PatientClass.OUTPATIENT and not daytime:
                continue
            # Thin the non-radiography share (radiographs dominate a department's volume).
            if proc.modality is Modality.XR or rng.random() < 1 / XR_BOOST:
                break
        day.append(study)
    noise = tuple(math.exp(rng.gauss(0.0, NOISE_SIGMA)) for _ in day)

    # Scale read times so that capacity over the day is `capacity_ratio` x demand.
    ref = 8.0
    capacity = sum(_duty_in_day(r) * r.reader.wrvu_per_hour / ref for r in roster)
    demand = sum(s.read_minutes for s in day)
    scale = capacity / capacity_ratio / demand
    day = [replace(s, read_minutes=s.read_minutes * scale, cap_group=None) for s in day]
    return Scenario(seed, EPOCH, 24 * 60, tuple(day), tuple(minutes), noise, tuple(roster), scale)


def _duty_in_day(r: SimReader) -> float:
    return r.on_duty_minutes(24 * 60.0)
