"""Seeded, realistic departments: rosters, arriving studies and bench snapshots."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import UTC, datetime, timedelta

from balancer.model import Radiologist, Snapshot, Study
from balancer.simulation.catalog import (
    CLASS_SHARE,
    CLASSES,
    PRIORITY_SHARE,
    PROCEDURES,
    ProcedureSpec,
)
from domain.catalog_data import TURNAROUND_MINUTES
from domain.enums import PatientClass, Priority, RadiologistStatus, Subspecialty

EPOCH = datetime(2025, 3, 3, 0, 0, tzinfo=UTC)
SITES = (1, 2, 3, 4)
# Credentials that commonly go together, for a reader's second subspecialty.
RELATED = {
    Subspecialty.CHEST: Subspecialty.BODY,
    Subspecialty.BODY: Subspecialty.CHEST,
    Subspecialty.NEURO: Subspecialty.MSK,
    Subspecialty.MSK: Subspecialty.GENERAL,
    Subspecialty.BREAST: Subspecialty.BODY,
    Subspecialty.PEDIATRIC: Subspecialty.GENERAL,
    Subspecialty.CARDIAC: Subspecialty.CHEST,
    Subspecialty.NUCLEAR: Subspecialty.BODY,
    Subspecialty.IR: Subspecialty.BODY,
    Subspecialty.GENERAL: Subspecialty.CHEST,
}


def demand_share() -> dict[Subspecialty, float]:
    """Share of the department's read minutes each subspecialty needs."""
    minutes: dict[Subspecialty, float] = defaultdict(float)
    for ci, cls in enumerate(CLASSES):
        total = sum(p.mix[ci] for p in PROCEDURES)
        for p in PROCEDURES:
            minutes[p.subspecialty] += CLASS_SHARE[cls] * p.mix[ci] / total * p.read_minutes
    whole = sum(minutes.values())
    return {s: v / whole for s, v in minutes.items()}


def make_reader(
    rng: random.Random, rid: int, primary: Subspecialty
) -> tuple[frozenset[Subspecialty], frozenset[int], float]:
    """Credentials, site privileges and pace for one reader whose main credential is `primary`."""
    subs = {primary}
    if rng.random() < 0.6:
        subs.add(RELATED[primary])
    if rng.random() < 0.5:
        subs.add(Subspecialty.GENERAL)
    if rng.random() < 0.25:
        subs.add(rng.choice(list(Subspecialty)))
    sites = frozenset(s for s in SITES if rng.random() < 0.8) or frozenset({rng.choice(SITES)})
    return frozenset(subs), sites, round(rng.uniform(6.0, 12.0), 1)


def primaries(rng: random.Random, n: int) -> list[Subspecialty]:
    """Main credentials for `n` readers, in proportion to demand, each at least once."""
    share = demand_share()
    subs = sorted(share, key=lambda s: -share[s])
    out = list(subs)[:n]
    while len(out) < n:
        out.append(rng.choices(subs, weights=[share[s] for s in subs])[0])
    rng.shuffle(out)
    return out


def pick_procedure(rng: random.Random, cls: PatientClass) -> ProcedureSpec:
    """A procedure drawn from the case mix of a patient class."""
    ci = CLASSES.index(cls)
    return rng.choices(PROCEDURES, weights=[p.mix[ci] for p in PROCEDURES])[0]


def pick_class_priority(
    rng: random.Random, stat_scale: float = 1.0
) -> tuple[PatientClass, Priority]:
    """A patient class and priority from the department's mix (`stat_scale` thins STATs)."""
    cls = rng.choices(CLASSES, weights=[CLASS_SHARE[c] for c in CLASSES])[0]
    shares = dict(PRIORITY_SHARE[cls])
    shares[Priority.STAT] *= stat_scale
    prio = rng.choices(list(shares), weights=list(shares.values()))[0]
    return cls, prio


def make_study(
    rng: random.Random, sid: int, ready_at: datetime, *, stat_scale: float = 1.0
) -> tuple[Study, ProcedureSpec]:
    """One study ready at `ready_at`, with its procedure."""
    cls, prio = pick_class_priority(rng, stat_scale)
    proc = pick_procedure(rng, cls)
    return study_of(sid, proc, cls, prio, rng.choice(SITES), ready_at), proc


def study_of(
    sid: int,
    proc: ProcedureSpec,
    cls: PatientClass,
    prio: Priority,
    site_id: int,
    ready_at: datetime,
) -> Study:
    """The balancer's view of one study, due by the catalogue's turnaround target."""
    return Study(
        id=sid,
        subspecialty=proc.subspecialty,
        site_id=site_id,
        priority=prio,
        patient_class=cls,
        wrvu=proc.wrvu,
        read_minutes=proc.read_minutes,
        ready_at=ready_at,
        due_at=ready_at + timedelta(minutes=TURNAROUND_MINUTES[(prio, cls)]),
        cap_group="STAT" if prio is Priority.STAT else None,
        procedure_group=proc.modality.value,
    )


def bench_snapshot(seed: int, n_studies: int, n_readers: int) -> Snapshot:
    """A busy moment: `n_studies` unread studies, `n_readers` on the roster, nothing assigned yet.

    Most readers are mid-shift and available, a few are on break or gone; each available reader
    has one study open; a handful of studies carry supervisor pins.
    """
    rng = random.Random(seed)
    now = EPOCH + timedelta(hours=14)
    readers: list[Radiologist] = []
    for i, primary in enumerate(primaries(rng, n_readers)):
        subs, sites, rate = make_reader(rng, i + 1, primary)
        roll = rng.random()
        status = (
            RadiologistStatus.ON_BREAK
            if roll < 0.04
            else RadiologistStatus.OFF
            if roll < 0.07
            else RadiologistStatus.AVAILABLE
        )
        start = now - timedelta(minutes=rng.randint(30, 360))
        end = now + timedelta(minutes=rng.randint(120, 600))
        readers.append(Radiologist(i + 1, subs, sites, status, start, end, rate))
    studies: list[Study] = []
    for sid in range(1, n_studies + 1):
        ready = now - timedelta(minutes=rng.expovariate(1 / 240.0))
        study, _ = make_study(rng, sid, ready, stat_scale=0.15)
        studies.append(study)
    available = [r for r in readers if r.status is RadiologistStatus.AVAILABLE]
    from balancer.eligibility import is_eligible

    # Each available reader has an eligible study open; a few studies carry pins.
    taken: set[int] = set()
    for r in available:
        for _ in range(200):
            j = rng.randrange(len(studies))
            s = studies[j]
            if j not in taken and s.cap_group is None and is_eligible(s, r, now):
                studies[j] = _replace(
                    s, opened_by=r.id, opened_at=now - timedelta(minutes=rng.uniform(0, 5))
                )
                taken.add(j)
                break
    for _ in range(max(1, n_studies // 250)):
        j = rng.randrange(len(studies))
        s = studies[j]
        fits = [r for r in available if is_eligible(s, r, now)]
        if j not in taken and fits:
            studies[j] = _replace(s, pinned_to=rng.choice(fits).id)
            taken.add(j)
    return Snapshot(now=now, studies=tuple(studies), radiologists=tuple(readers), caps={"STAT": 2})


def _replace(study: Study, **changes: object) -> Study:
    from dataclasses import replace

    return replace(study, **changes)  # type: ignore[arg-type]
