"""Rules: evaluation speed, and how fast an activation reaches the worklists.

    python -m bench.rules [--open 2000]

`evaluate_ms`: 100 rules over 10,000 open studies, every action applied (column-wise).
`one_study_ms`: all 100 rules for one changed study. `activate_to_replanned_ms`: on a SQLite
department with `--open` unread studies and its readers on shift, the time from an
`activateRuleSet` commit until the balancer has committed the re-plan it triggers (the
runner listens to the commit, reads the snapshot, applies the new rules, solves, commits).
`simulate_s`: `simulateRuleSet`'s work for a `--sim-studies` day (default 2,000, 16 readers):
the day replayed under the default rule set and under a draft without its escalation rules,
in two processes at once, including their start (wall clock, first call of a fresh server).
Last line: {"rules": 100, "studies": 10000, "evaluate_ms": .., "one_study_ms": ..,
"activate_to_replanned_ms": .., "simulate_s": ..}
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlmodel import SQLModel, col

import domain.models as m
from application.demo import RADIOLOGISTS, seed_reference
from application.planning.rule_effects import adjust_state
from application.planning.runner import BalancerRunner
from bench.rules_eval import measure_engine
from domain.db import Database, UnitOfWork
from domain.enums import ExamStatus, PatientClass, Priority, Role
from domain.lifecycle import Actor
from domain.services import rulesets, worklists
from domain.services.orders import new_accession_number
from rules.defaults import DEFAULT_RULE_SET
from rules.model import Rule, RuleSet, SetPriority
from rules.serialization import rule_set_to_data

SUPERVISOR = Actor("bench", Role.SUPERVISOR)


def open_studies(uow: UnitOfWork, count: int, seed: int = 5) -> None:
    """`count` unread studies that became readable over the last six hours."""
    rng = random.Random(seed)
    s = uow.session
    patients = list(s.scalars(sa.select(col(m.Patient.id))))
    procedures = list(s.execute(sa.select(col(m.Procedure.id), col(m.Procedure.modality))))
    sites = dict(s.execute(sa.select(col(m.Site.code), col(m.Site.id))).all())
    rows = []
    for n in range(count):
        procedure, modality = rng.choice(procedures)
        ready = uow.now - timedelta(minutes=rng.uniform(0, 360))
        priority = rng.choices(list(Priority), weights=[1, 2, 7])[0]
        rows.append(
            {
                "accession_number": new_accession_number(),
                "order_source": "BENCH",
                "placer_order_number": f"R{n:07d}",
                "patient_id": rng.choice(patients),
                "referrer_id": 1,
                "procedure_id": procedure,
                "site_id": sites["NORTH" if modality.value in ("US", "MG") else "MAIN"],
                "priority": priority,
                "patient_class": rng.choice(list(PatientClass)),
                "indication": "bench",
                "icd10_code": "R52",
                "status": ExamStatus.READY_FOR_READ,
                "version": 1,
                "ordered_at": ready - timedelta(hours=1),
                "status_changed_at": ready,
                "ready_at": ready,
                "due_at": ready + timedelta(hours=rng.choice([1, 4, 24])),
            }
        )
    s.execute(sa.insert(m.Exam), rows)


def roster(uow: UnitOfWork) -> None:
    """Everyone on shift for the next eight hours."""
    for code, *_rest, privileges in RADIOLOGISTS:
        worklists.start_shift(
            uow=uow,
            actor=SUPERVISOR,
            radiologist_code=code,
            site_code=privileges[0],
            ends_at=uow.now + timedelta(hours=8),
        )


async def activate_to_replanned(open_count: int, rounds: int = 5) -> list[float]:
    """Milliseconds from each activation's commit to the committed re-plan it triggered."""
    db = Database(f"sqlite:///{Path(tempfile.mkdtemp()) / 'rules.db'}")
    assert db.sync_engine is not None
    SQLModel.metadata.create_all(db.sync_engine)
    await db.run(lambda uow: seed_reference(uow, patients=500))
    await db.run(roster)
    await db.run(lambda uow: open_studies(uow, open_count))
    drafts = [
        DEFAULT_RULE_SET,
        RuleSet(
            (
                *DEFAULT_RULE_SET.rules,
                Rule("All CT urgent", 'modality == "CT"', (SetPriority(Priority.URGENT),), order=5),
            )
        ),
    ]
    versions = []
    for draft in drafts:

        def store(uow: UnitOfWork, draft: RuleSet = draft) -> m.RuleSetVersion:
            return rulesets.store_version(
                uow=uow,
                actor=SUPERVISOR,
                rules=rule_set_to_data(draft),
                reason="bench",
                based_on=None,
            )

        saved = await db.run(store)
        assert saved.version is not None
        versions.append(saved.version)
    runner = BalancerRunner(db, adjust=adjust_state, tick_seconds=3600)
    runner.start()
    while runner.last is None:  # noqa: ASYNC110  (polls the runner; the first plan places all)
        await asyncio.sleep(0.01)
    timings = []
    for n in range(rounds):
        version = versions[n % 2]
        runs_before = runner.last.outcome.run_id

        def activate(uow: UnitOfWork, version: int = version) -> None:
            rulesets.activate(uow=uow, actor=SUPERVISOR, version=version, reason="bench")

        await db.run(activate)
        committed = time.perf_counter()
        while (  # noqa: ASYNC110
            runner.last.outcome.run_id == runs_before
            or "RuleSetActivated" not in runner.last.trigger
        ):
            await asyncio.sleep(0.002)
        timings.append((time.perf_counter() - committed) * 1000)
        print(
            f"activation {n + 1}: version {version} re-planned in {timings[-1]:.0f} ms "
            f"(moved {runner.last.outcome.moved})"
        )
    await runner.stop()
    await db.dispose()
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--open", type=int, default=2000)
    parser.add_argument("--sim-studies", type=int, default=2000)
    args = parser.parse_args()
    figures: dict[str, float] = dict(measure_engine())
    timings = asyncio.run(activate_to_replanned(args.open))
    figures["activate_to_replanned_ms"] = round(statistics.median(timings), 1)
    print(
        f"activate -> re-planned at {args.open} open studies: median "
        f"{figures['activate_to_replanned_ms']} ms, max {max(timings):.0f} ms"
    )
    figures["simulate_s"] = simulate_day(args.sim_studies)
    print(json.dumps(figures))


def simulate_day(studies: int) -> float:
    """Seconds to compare a simulated day under the default rules and a draft."""
    from application.planning.rule_simulation import compare
    from balancer.simulation.scenario import ScenarioSpec
    from rules.defaults import DEFAULT_RULE_SET
    from rules.serialization import rule_set_to_data

    active = rule_set_to_data(DEFAULT_RULE_SET)
    draft = [r for r in active if not str(r["name"]).startswith("Escalate")]
    started = time.perf_counter()
    result = compare(ScenarioSpec(seed=1, studies=studies, radiologists=16), active, draft)
    seconds = round(time.perf_counter() - started, 2)
    for name, day in (("active", result.active), ("draft", result.draft)):
        print(
            f"simulated {studies} studies under the {name} rules: breach "
            f"{day.breach_rate:.2%}, wRVU max/mean {day.wrvu_max_over_mean}, "
            f"{day.seconds} s"
        )
    print(f"simulateRuleSet, {studies} studies: {seconds} s")
    return seconds


if __name__ == "__main__":
    main()
