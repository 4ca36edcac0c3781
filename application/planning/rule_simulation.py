"""A rule set replayed over a simulated day: the active rules and a draft, side by side.

The balancer's simulator draws a day (arrivals, read times, a roster in shifts) and replays it
under radflow's planner; this module gives it the rules as the live runner applies them: on
every snapshot, each waiting study's facts (as ordered, at the snapshot's time) go through the
compiled rule set and the effects reach the planner through the same `rule_snapshot` the live
runner uses. Both runs replay the very same day, so the differences come from the rules alone.

The simulated department is synthetic: its readers are not the department's radiologists and
no AI triage is posted in it. Rules that name radiologists or act on AI triage cannot take
effect there; `caveats` lists them so a supervisor is not misled.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from typing import Any

import numpy as np

from application.planning.rule_effects import rule_snapshot
from balancer.model import Params, Snapshot
from balancer.simulation.arrivals import SITE_CODES
from balancer.simulation.engine import Run, simulate
from balancer.simulation.info import Adjust, StudyInfo
from balancer.simulation.metrics import PRIORITIES, wrvu_spread
from balancer.simulation.scenario import Scenario, ScenarioSpec, from_spec
from domain.enums import Priority
from rules.compiled import CompiledRuleSet, compile_rule_set
from rules.defaults import DEFAULT_TURNAROUND
from rules.evaluation import apply
from rules.facts import facts_table
from rules.model import ExcludeRadiologists, RestrictRadiologists, RuleSet
from rules.serialization import rule_set_from_data
from rules.vocabulary import StudyFacts, Weekday

_WEEKDAYS = list(Weekday)
# Limits of a scenario a supervisor may ask for while editing (it replays twice).
MAX_STUDIES = 5_000
MAX_RADIOLOGISTS = 100
# As bench.simulate: every search ends because it found nothing better, never on the clock, so
# a seed replays the same day whatever the machine is doing, and both runs differ by the rules.
REPLAY_PARAMS = Params(time_limit_s=30.0, cold_time_limit_s=60.0)


@dataclass(frozen=True, slots=True)
class PriorityFigures:
    """How the studies of one priority (as ordered) fared over the day."""

    priority: Priority
    studies: int
    breach_rate: float
    tat_p50_min: float
    tat_p90_min: float
    tat_max_min: float


@dataclass(frozen=True, slots=True)
class DayFigures:
    """The key figures of one replay of the day."""

    breach_rate: float
    by_priority: tuple[PriorityFigures, ...]
    wrvu_max_over_mean: float  # highest reader's wRVU per own capacity over the mean (1: even)
    unread: int  # studies still unread when the replay ended
    ineligible: int  # reads by a reader the rules did not allow (0 unless something is wrong)
    seconds: float


@dataclass(frozen=True, slots=True)
class Comparison:
    """The same day under the active rules (none: the balancer alone) and under a draft."""

    spec: ScenarioSpec
    active: DayFigures
    draft: DayFigures
    caveats: tuple[str, ...]


def simulation_adjust(compiled: CompiledRuleSet) -> Adjust:
    """The simulator's hook applying `compiled` to each snapshot, as the live runner does."""
    readers_at: dict[str, frozenset[int]] = {}

    def adjust(
        snapshot: Snapshot, params: Params, info: Mapping[int, StudyInfo]
    ) -> tuple[Snapshot, Params]:
        facts = [_facts(s.id, info[s.id], snapshot) for s in snapshot.studies if s.id in info]
        if not facts:
            return snapshot, params
        if not readers_at and snapshot.radiologists:
            # A simulated reader works wherever they hold privileges.
            for r in snapshot.radiologists:
                for site in r.site_privileges:
                    code = SITE_CODES[site]
                    readers_at[code] = readers_at.get(code, frozenset()) | {r.id}
        evaluation = apply(compiled, facts_table(facts), default_turnaround=DEFAULT_TURNAROUND)
        by_study = {f.study_id: evaluation.effect(i, explain=False) for i, f in enumerate(facts)}
        return rule_snapshot(snapshot, params, by_study, evaluation.rule_set, readers_at)

    return adjust


def _facts(study_id: int, info: StudyInfo, snapshot: Snapshot) -> StudyFacts:
    now = snapshot.now
    return StudyFacts(
        study_id=study_id,
        procedure_code=info.procedure_code,
        modality=info.modality,
        body_part=info.body_part,
        subspecialty=info.subspecialty,
        priority=info.priority,
        patient_class=info.patient_class,
        site=info.site_code,
        referrer=info.referrer,
        patient_age=info.patient_age,
        ai_flag="",
        ai_score=0.0,
        hour_of_day=now.hour,
        weekday=_WEEKDAYS[now.weekday()],
        minutes_until_due=int((info.due_at - now).total_seconds() // 60),
        minutes_waiting=int((now - info.ready_at).total_seconds() // 60),
        wrvu=info.wrvu,
    )


def caveats(rule_set: RuleSet) -> list[str]:
    """What of a rule set the synthetic day cannot show."""
    out = []
    for rule in rule_set.rules:
        if not rule.enabled:
            continue
        if any(isinstance(a, RestrictRadiologists | ExcludeRadiologists) for a in rule.actions):
            out.append(
                f"rule {rule.name!r} names radiologists; the simulated roster has none "
                "of them, so its reader restriction is left out"
            )
        if "ai_" in rule.condition:
            out.append(
                f"rule {rule.name!r} reads AI triage; no triage is posted in the "
                "simulated day, so its condition sees no finding and a score of 0"
            )
    return out


def replay(spec: ScenarioSpec, rules: list[dict[str, Any]] | None) -> DayFigures:
    """One replay of the day `spec` draws, under stored rule data (None: no rules)."""
    started = time.perf_counter()
    scn = from_spec(spec)
    adjust = None
    if rules is not None:
        rule_set, errors = rule_set_from_data(rules)
        assert not errors, errors  # validated before it gets here
        adjust = simulation_adjust(compile_rule_set(_simulable(rule_set)))
    run = simulate(scn, "radflow", params=REPLAY_PARAMS, adjust=adjust)
    return _figures(scn, run, time.perf_counter() - started)


def _simulable(rule_set: RuleSet) -> RuleSet:
    """The rule set without reader restrictions by name (the roster is synthetic)."""
    from dataclasses import replace

    rules = tuple(
        replace(
            r,
            actions=tuple(
                a
                for a in r.actions
                if not isinstance(a, RestrictRadiologists | ExcludeRadiologists)
            ),
        )
        for r in rule_set.rules
    )
    return replace(rule_set, rules=tuple(r for r in rules if r.actions))


def _figures(scn: Scenario, run: Run, seconds: float) -> DayFigures:
    finish = run.finish
    ready = np.array(scn.ready_min)
    done = np.array(finish)
    unread = int(np.isnan(done).sum())
    # A study still unread at the end counts as breached, its wait as far as the replay went.
    end = np.nanmax(done) if unread < done.size else float(scn.day_minutes)
    done = np.where(np.isnan(done), max(end, float(scn.day_minutes)), done)
    tat = done - ready
    due = np.array([(s.due_at - scn.start).total_seconds() / 60.0 for s in scn.studies])
    breach = (done > due) | np.isnan(np.array(finish))
    priority = np.array([scn.info[s.id].priority.value for s in scn.studies])
    rows = []
    for p in PRIORITIES:
        mask = priority == p.value
        if not mask.any():
            continue
        rows.append(
            PriorityFigures(
                priority=p,
                studies=int(mask.sum()),
                breach_rate=round(float(breach[mask].mean()), 4),
                tat_p50_min=round(float(np.percentile(tat[mask], 50)), 1),
                tat_p90_min=round(float(np.percentile(tat[mask], 90)), 1),
                tat_max_min=round(float(tat[mask].max()), 1),
            )
        )
    return DayFigures(
        breach_rate=round(float(breach.mean()), 4) if breach.size else 0.0,
        by_priority=tuple(rows),
        wrvu_max_over_mean=round(wrvu_spread(scn, run), 3),
        unread=unread,
        ineligible=run.ineligible + run.violations,
        seconds=round(seconds, 2),
    )


_pool: ProcessPoolExecutor | None = None


def _processes() -> ProcessPoolExecutor:
    global _pool
    if _pool is None:
        # Spawned, not forked: the server has threads (and an event loop) a fork would copy.
        _pool = ProcessPoolExecutor(max_workers=2, mp_context=get_context("spawn"))
    return _pool


def compare(
    spec: ScenarioSpec, active: list[dict[str, Any]] | None, draft: list[dict[str, Any]]
) -> Comparison:
    """Replay the day under the active rules and under the draft, in two processes at once."""
    draft_set, errors = rule_set_from_data(draft)
    assert not errors, errors
    pool = _processes()
    before = pool.submit(replay, spec, active)
    after = pool.submit(replay, spec, draft)
    return Comparison(
        spec=spec, active=before.result(), draft=after.result(), caveats=tuple(caveats(draft_set))
    )
