"""What a run shows: turnaround and breaches per priority, load spread, churn, eligibility."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from itertools import pairwise

import numpy as np

from balancer.simulation.engine import Run
from balancer.simulation.scenario import Scenario
from domain.enums import Priority

PRIORITIES = (Priority.STAT, Priority.URGENT, Priority.ROUTINE)


def summarise(scn: Scenario, run: Run) -> dict[str, object]:
    """The figures of one policy's run, as the JSON line reports them."""
    ready = np.array(scn.ready_min)
    finish = np.array(run.finish)
    tat = finish - ready
    due = np.array([(s.due_at - scn.start).total_seconds() / 60.0 for s in scn.studies])
    breach = finish > due
    prio = np.array([s.priority.value for s in scn.studies])
    breach_rate: dict[str, float] = {}
    tat_p50: dict[str, float] = {}
    tat_p90: dict[str, float] = {}
    tat_max: dict[str, float] = {}
    for p in PRIORITIES:
        mask = prio == p.value
        if not mask.any():
            continue
        breach_rate[p.value] = round(float(breach[mask].mean()), 4)
        tat_p50[p.value] = round(float(np.percentile(tat[mask], 50)), 1)
        tat_p90[p.value] = round(float(np.percentile(tat[mask], 90)), 1)
        tat_max[p.value] = round(float(tat[mask].max()), 1)
    breach_rate["ALL"] = round(float(breach.mean()), 4)
    out: dict[str, object] = {
        "breach_rate": breach_rate,
        "tat_p50_min": tat_p50,
        "tat_p90_min": tat_p90,
        "tat_max_min": tat_max,
    }
    out["wrvu_max_over_mean"] = round(wrvu_spread(scn, run), 3)
    out["churn"] = round(float(np.mean(run.churn)), 5) if run.churn else 0.0
    out["ineligible"] = run.ineligible + run.violations
    out["idle_with_work_min"] = sum(run.idle_with_work)
    if run.fast_objective > 0:  # the live search's share of the day's objective
        out["search_share"] = round(run.search_won / run.fast_objective, 6)
        out["search_rounds_kept"] = run.search_kept
    return out


def wrvu_per_capacity(scn: Scenario, run: Run) -> np.ndarray:
    """Per reader: wRVU read in the day over their own capacity on duty in it (wRVU/h x hours).

    1.0 means the reader read their stated rate for every hour on shift (breaks excluded); the
    spread of this across readers is the load the issue asks to even out.
    """
    day = float(scn.day_minutes)
    read = np.zeros(len(scn.roster))
    for k, r in enumerate(run.reader):
        if r >= 0 and run.start[k] < day:
            read[r] += scn.studies[k].wrvu
    capacity = np.array(
        [sr.on_duty_minutes(day) / 60.0 * sr.reader.wrvu_per_hour for sr in scn.roster]
    )
    out: np.ndarray = np.where(capacity > 0, read / np.maximum(capacity, 1e-9), np.nan)
    return out


def wrvu_spread(scn: Scenario, run: Run) -> float:
    """Highest reader's wRVU per own capacity over the mean of readers on duty (1.0: even)."""
    per = wrvu_per_capacity(scn, run)
    per = per[~np.isnan(per)]
    return float(per.max() / per.mean()) if per.size and per.mean() > 0 else 0.0


def longest_waits(scn: Scenario, run: Run) -> dict[Priority, int]:
    """Per priority, the study index that waited longest from ready to read finished."""
    tat = np.array(run.finish) - np.array(scn.ready_min)
    prio = np.array([s.priority.value for s in scn.studies])
    out: dict[Priority, int] = {}
    for p in PRIORITIES:
        idx = np.flatnonzero(prio == p.value)
        if idx.size:
            out[p] = int(idx[np.argmax(tat[idx])])
    return out


def story(scn: Scenario, run: Run, k: int) -> list[str]:
    """How study `k` waited under radflow, from `Run.history` (`simulate(..., history=True)`):
    the readers and worklist positions its re-plans gave it, how often it was moved or put
    back, and what the readers who may read it started instead while it waited."""
    s, info = scn.studies[k], scn.info[scn.studies[k].id]
    ready, start, finish = scn.ready_min[k], run.start[k], run.finish[k]

    def at(minute: float) -> str:
        days = int(minute // (24 * 60))
        return scn.at(minute).strftime("%H:%M") + (f" (+{days} d)" if days > 0 else "")

    def times(n: int) -> str:
        return f"{n} time{'' if n == 1 else 's'}"

    rows = run.history.get(k, [])
    moved = sum(1 for a, b in pairwise(rows) if b[1] != a[1])
    back = sum(1 for a, b in pairwise(rows) if b[1] == a[1] and b[2] > a[2])
    lines = [
        f"study {s.id} ({info.procedure_code}, {s.priority} {s.patient_class} {s.subspecialty} "
        f"site {s.site_id}): ready {at(ready)}, due {at(minutes_of(scn, s.due_at))}, started "
        f"{at(start)} by reader {run.reader[k]}, finished after {finish - ready:.1f} min",
        f"  re-plans moved it {times(moved)} and put it further back on the same worklist "
        f"{times(back)}",
    ]
    shown = [row for i, row in enumerate(rows) if i == 0 or row[1] != rows[i - 1][1]]
    if rows and rows[-1] not in shown:
        shown.append(rows[-1])
    lines += [
        f"  {at(t)} " + (f"reader {r} position {pos}" if r >= 0 else "no reader (unassignable)")
        for t, r, pos in shown
    ]
    may = [
        r
        for r, sr in enumerate(scn.roster)
        if s.subspecialty in sr.reader.subspecialties and s.site_id in sr.reader.site_privileges
    ]
    younger: Counter[str] = Counter()
    for j, r in enumerate(run.reader):
        if r in may and ready <= run.start[j] < start and scn.ready_min[j] > ready:
            other = scn.studies[j]
            younger[f"{other.priority} {other.patient_class}"] += 1
    if younger:
        parts = ", ".join(f"{n} {what}" for what, n in younger.most_common())
        lines.append(
            f"  while it waited, the {len(may)} readers who may read it started "
            f"{sum(younger.values())} younger studies: {parts}"
        )
    return lines


def minutes_of(scn: Scenario, when: datetime) -> float:
    """Minutes from the start of the simulated day to `when`."""
    return (when - scn.start).total_seconds() / 60.0
