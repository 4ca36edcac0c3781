"""A department's day, drawn once per seed: arrivals, read-time noise and a roster in shifts.

Every policy replays the same day: the same studies arrive at the same minutes and each read
takes the same time whoever does it (scaled by the reader's pace), so differences in the
results come from the policy alone.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from types import MappingProxyType

from balancer.model import Radiologist, Study
from balancer.simulation.arrivals import describe, draw_arrivals, to_study
from balancer.simulation.department import EPOCH, RELATED, SITES, make_reader, primaries
from balancer.simulation.info import StudyInfo
from domain.enums import RadiologistStatus, Subspecialty

# Shift templates: (start hour, length hours, share of the roster). Night and swing shifts
# wrap past midnight, so the same readers also cover the small hours (the previous night).
SHIFTS = ((7, 10, 0.55), (10, 10, 0.15), (14, 10, 0.18), (22, 10, 0.12))
BREAK_MINUTES = 45
# The high-volume credential a reader of a low-volume subspecialty also holds.
NARROW_ALSO = {
    Subspecialty.CARDIAC: Subspecialty.CHEST,
    Subspecialty.PEDIATRIC: Subspecialty.CHEST,
    Subspecialty.IR: Subspecialty.BODY,
    Subspecialty.NUCLEAR: Subspecialty.BODY,
    Subspecialty.BREAST: Subspecialty.BODY,
}
# Projections use the catalogue time; the real read varies around it by this much (log-sd).
NOISE_SIGMA = 0.25
# A subspecialty's holders have at least this many times its demand in capacity (`_staff`).
STAFFING = 2.0
# Holders of a subspecialty on duty in every hour its work arrives (`_backup`).
BACKUP = 2
# Night and swing readers cover everything an ED or a ward sends, at every site.
GENERALIST = frozenset(Subspecialty) - {Subspecialty.BREAST}


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

    def minutes_on_duty(self, t: float) -> float:
        """Minutes available for reading (breaks excluded) in the current shift up to `t`."""
        w = self.window(t)
        if w is None:
            return 0.0
        on_break = max(0.0, min(w.break_end, t) - w.break_start)
        return max(0.0, t - w.start - on_break)

    def on_duty_minutes(self, horizon: float) -> float:
        """Minutes available for reading (breaks excluded) between 0 and `horizon`."""
        total = 0.0
        for w in self.windows:
            total += max(0.0, min(w.end, horizon) - max(w.start, 0.0))
            total -= max(0.0, min(w.break_end, horizon) - max(w.break_start, 0.0))
        return total


def _same_speed() -> Mapping[tuple[int, str], float]:
    return MappingProxyType({})


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
    info: Mapping[int, StudyInfo]  # study id -> what a rule condition can look at
    # (roster index, procedure group) -> the reader's true read time there over their overall
    # pace (`with_group_speeds`); empty: every reader reads every group at their overall pace.
    group_speed: Mapping[tuple[int, str], float] = field(default_factory=_same_speed)

    def at(self, minute: float) -> datetime:
        """The wall-clock time of a simulated minute."""
        return self.start + timedelta(minutes=minute)

    def read_time(self, k: int, r: int) -> float:
        """Minutes roster reader `r` takes to read study `k`: the same under every policy."""
        study, reader = self.studies[k], self.roster[r].reader
        speed = self.group_speed.get((r, study.procedure_group or ""), 1.0)
        return study.read_minutes * (8.0 / reader.wrvu_per_hour) * self.noise[k] * speed


def _windows(rng: random.Random, start_h: int, length_h: int) -> tuple[Window, ...]:
    out = []
    for day in (-1, 0, 1):  # the previous night's tail, today, and tomorrow to drain the queue
        s = (day * 24 + start_h) * 60 + rng.choice((0, 0, 15, 30))
        e = s + length_h * 60
        b = s + length_h * 60 * 0.45 + rng.randint(-30, 30)
        if e > 0:
            out.append(Window(float(s), float(e), float(b), float(b + BREAK_MINUTES)))
    return tuple(out)


@dataclass(frozen=True, slots=True)
class ScenarioSpec:
    """How big a day to draw: studies over 24 h, radiologists on the roster, the seed.

    `capacity_ratio` is the roster's reading capacity over the day divided by the day's demand
    (read times are scaled to it). A 2,000-study day with 12-20 radiologists replays in seconds.
    """

    seed: int = 1
    studies: int = 10_000
    radiologists: int = 60
    capacity_ratio: float = 1.1


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
        subs = broaden(subs)
        if kind[0] >= 13:
            subs, sites = subs | GENERALIST, frozenset(SITES)
        reader = Radiologist(i + 1, subs, sites, RadiologistStatus.OFF, None, None, rate)
        roster.append(SimReader(reader, _windows(rng, kind[0], kind[1])))
    roster = _cover(roster, kinds)

    arrivals = draw_arrivals(rng, studies)
    minutes = tuple(a.minute for a in arrivals)
    day = [to_study(i + 1, a) for i, a in enumerate(arrivals)]
    noise = tuple(math.exp(rng.gauss(0.0, NOISE_SIGMA)) for _ in day)
    # The rule-visible facts come from a stream of their own, so they never change the day.
    facts = random.Random(f"facts-{seed}")
    info = MappingProxyType(
        {s.id: describe(facts, s, a) for s, a in zip(day, arrivals, strict=True)}
    )

    # Scale read times so that capacity over the day is `capacity_ratio` x demand.
    ref = 8.0
    capacity = sum(_duty_in_day(r) * r.reader.wrvu_per_hour / ref for r in roster)
    demand = sum(s.read_minutes for s in day)
    scale = capacity / capacity_ratio / demand if demand else 1.0
    day = [replace(s, read_minutes=s.read_minutes * scale, cap_group=None) for s in day]
    roster = _staff(roster, kinds, day, ref)
    roster = _backup(roster, day, minutes)
    return Scenario(seed, EPOCH, 24 * 60, tuple(day), minutes, noise, tuple(roster), scale, info)


# How far a reader's true read time for a procedure group strays from their overall pace.
GROUP_SPREAD = 0.4


def with_group_speeds(scn: Scenario, spread: float = GROUP_SPREAD) -> Scenario:
    """The same day with readers whose true speed differs by procedure group: each reader's
    factor per group drawn uniformly within +-`spread`, then scaled so that over the day's mix
    of work (read minutes per group) the reader keeps their overall pace on average; the
    planner is told only the overall pace, as the catalogue and `wrvu_per_hour` say."""
    rng = random.Random(f"group-speeds-{scn.seed}")
    mix: dict[str, float] = {}
    for s in scn.studies:
        group = s.procedure_group or ""
        mix[group] = mix.get(group, 0.0) + s.read_minutes
    total = sum(mix.values()) or 1.0
    speeds: dict[tuple[int, str], float] = {}
    for r in range(len(scn.roster)):
        drawn = {g: 1.0 + rng.uniform(-spread, spread) for g in sorted(mix)}
        mean = sum(drawn[g] * mix[g] for g in drawn) / total
        speeds.update({(r, g): f / mean for g, f in drawn.items()})
    return replace(scn, group_speed=MappingProxyType(speeds))


def broaden(subs: frozenset[Subspecialty]) -> frozenset[Subspecialty]:
    """Credentials as a reading roster has them: everyone reads general work, and a reader of a
    low-volume subspecialty (IR, nuclear, cardiac, breast, pediatric) also reads a high-volume
    one, as departments roster them; nobody sits on a list of work that hardly comes."""
    out = subs | {Subspecialty.GENERAL}
    if not out & {Subspecialty.BODY, Subspecialty.CHEST, Subspecialty.NEURO, Subspecialty.MSK}:
        primary = min(out - {Subspecialty.GENERAL}, default=Subspecialty.GENERAL)
        out |= {NARROW_ALSO.get(primary, Subspecialty.BODY)}
    return out


def from_spec(spec: ScenarioSpec) -> Scenario:
    """The day a `ScenarioSpec` describes."""
    return build(
        spec.seed,
        studies=spec.studies,
        readers=spec.radiologists,
        capacity_ratio=spec.capacity_ratio,
    )


def _cover(roster: list[SimReader], kinds: list[tuple[int, int, float]]) -> list[SimReader]:
    """Give the day shift every (subspecialty, site) no day reader holds, as rosters are built.

    A department staffs its day so that every site's work has a reader of its subspecialty;
    without this a random roster leaves gaps in which no policy can help (a breast study at a
    site no breast reader holds privileges for). The closest day reader (same main credential
    first, then the fewest sites) takes the missing site or credential.
    """
    day = [i for i, k in enumerate(kinds) if k is SHIFTS[0]]
    if not day:
        return roster
    out = list(roster)
    for sub in Subspecialty:
        for site in SITES:
            held = any(
                sub in out[i].reader.subspecialties and site in out[i].reader.site_privileges
                for i in day
            )
            if held:
                continue
            with_sub = [i for i in day if sub in out[i].reader.subspecialties]
            pick = min(with_sub or day, key=lambda i: (len(out[i].reader.site_privileges), i))
            r = out[pick].reader
            out[pick] = replace(
                out[pick],
                reader=replace(
                    r,
                    subspecialties=r.subspecialties | {sub},
                    site_privileges=r.site_privileges | {site},
                ),
            )
    return out


def _staff(
    roster: list[SimReader], kinds: list[tuple[int, int, float]], day: list[Study], ref: float
) -> list[SimReader]:
    """Credential more day readers for a subspecialty whose holders could barely read its work.

    Every reader also reads other work (GENERAL at least), so a department credentials enough
    readers that a subspecialty needs at most half of its holders' time (STAFFING). Drawing
    main credentials in proportion to demand left breast with two day readers for a day's
    mammograms (0.9 x their capacity; evening and night readers do not read breast): under
    every policy they read mammograms, the densest work, all day and nothing else. A day reader
    holding the related credential (BODY for breast), fewest credentials first, takes it on.
    """
    demand: dict[Subspecialty, float] = {}
    for s in day:
        demand[s.subspecialty] = demand.get(s.subspecialty, 0.0) + s.read_minutes
    out = list(roster)
    day_readers = [i for i, k in enumerate(kinds) if k in (SHIFTS[0], SHIFTS[1])]

    def capacity(sub: Subspecialty) -> float:
        return sum(
            _duty_in_day(r) * r.reader.wrvu_per_hour / ref
            for r in out
            if sub in r.reader.subspecialties
        )

    for sub in Subspecialty:
        need = STAFFING * demand.get(sub, 0.0)
        related = RELATED[sub]
        pool = sorted(
            (i for i in day_readers if sub not in out[i].reader.subspecialties),
            key=lambda i: (
                related not in out[i].reader.subspecialties,
                len(out[i].reader.subspecialties),
                i,
            ),
        )
        for i in pool:
            if capacity(sub) >= need:
                break
            r = out[i].reader
            out[i] = replace(out[i], reader=replace(r, subspecialties=r.subspecialties | {sub}))
    return out


def _backup(
    roster: list[SimReader], day: list[Study], minutes: tuple[float, ...]
) -> list[SimReader]:
    """Two readers on duty for a subspecialty in every hour its work arrives (BACKUP).

    A department does not leave one reader as the only one who may read a kind of work: a
    break, a long case or a sick call would stop it, and that reader reads nothing else. Where
    an hour has fewer holders on duty, a reader on duty then takes the credential: one holding
    the related credential first, then the one covering the most sites, then the fewest
    credentials.
    """
    out = list(roster)
    arriving = {(s.subspecialty, int(m // 60)) for s, m in zip(day, minutes, strict=True)}
    for sub, hour in sorted(arriving):
        t = hour * 60 + 30.0
        on = [i for i, r in enumerate(out) if r.window(t) is not None]
        holders = [i for i in on if sub in out[i].reader.subspecialties]
        others = sorted(
            (i for i in on if sub not in out[i].reader.subspecialties),
            key=lambda i: (
                RELATED[sub] not in out[i].reader.subspecialties,
                -len(out[i].reader.site_privileges),
                len(out[i].reader.subspecialties),
                i,
            ),
        )
        for i in others[: max(0, BACKUP - len(holders))]:
            r = out[i].reader
            out[i] = replace(out[i], reader=replace(r, subspecialties=r.subspecialties | {sub}))
    return out


def _duty_in_day(r: SimReader) -> float:
    return r.on_duty_minutes(24 * 60.0)
