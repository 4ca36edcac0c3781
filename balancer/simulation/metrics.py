"""What a run shows: turnaround and breaches per priority, load spread, churn, eligibility."""

from __future__ import annotations

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
    out: dict[str, object] = {
        "breach_rate": {},
        "tat_p50_min": {},
        "tat_p90_min": {},
        "tat_max_min": {},
    }
    for p in PRIORITIES:
        mask = prio == p.value
        if not mask.any():
            continue
        out["breach_rate"][p.value] = round(float(breach[mask].mean()), 4)  # type: ignore[index]
        out["tat_p50_min"][p.value] = round(float(np.percentile(tat[mask], 50)), 1)  # type: ignore[index]
        out["tat_p90_min"][p.value] = round(float(np.percentile(tat[mask], 90)), 1)  # type: ignore[index]
        out["tat_max_min"][p.value] = round(float(tat[mask].max()), 1)  # type: ignore[index]
    out["breach_rate"]["ALL"] = round(float(breach.mean()), 4)  # type: ignore[index]
    out["wrvu_max_over_mean"] = round(wrvu_spread(scn, run), 3)
    out["churn"] = round(float(np.mean(run.churn)), 5) if run.churn else 0.0
    out["ineligible"] = run.ineligible + run.violations
    return out


def wrvu_per_capacity(scn: Scenario, run: Run) -> np.ndarray:
    """Per reader: wRVU read over what their peers on duty at the same hours read per capacity.

    Night readers idle because the night is quiet, not because of the policy; so each reader's
    wRVU is compared with the department's wRVU per unit of reading capacity in the hours they
    were on duty (1.0: loaded exactly like the peers working alongside them).
    """
    hours = int(np.nanmax(run.finish) // 60) + 1 if run.finish else 1
    m = len(scn.roster)
    read = np.zeros((m, hours))
    for k, r in enumerate(run.reader):
        if r >= 0:
            read[r, int(run.start[k] // 60)] += scn.studies[k].wrvu
    duty = np.array(
        [
            [
                sr.on_duty_minutes(60.0 * (h + 1)) - sr.on_duty_minutes(60.0 * h)
                for h in range(hours)
            ]
            for sr in scn.roster
        ]
    )
    capacity = duty * np.array([sr.reader.wrvu_per_hour / 60.0 for sr in scn.roster])[:, None]
    per_hour = read.sum(axis=0) / np.maximum(capacity.sum(axis=0), 1e-9)
    expected = (capacity * per_hour[None, :]).sum(axis=1)
    out: np.ndarray = np.where(expected > 0, read.sum(axis=1) / np.maximum(expected, 1e-9), 0.0)
    return out


def wrvu_spread(scn: Scenario, run: Run) -> float:
    """Highest reader's peer-relative wRVU over the mean (1.0: everyone loaded alike)."""
    per = wrvu_per_capacity(scn, run)
    per = per[per > 0]
    return float(per.max() / per.mean()) if per.size else 0.0
