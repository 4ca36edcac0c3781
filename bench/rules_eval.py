"""Micro-bench of the rules engine: 100 realistic rules over 10,000 synthetic open studies.

Run `python -m bench.rules_eval`; the last line is JSON with evaluate_ms (all rules over all
studies, actions applied, column-wise) and one_study_ms (all rules for one changed study).
"""

from __future__ import annotations

import json
import random
import statistics
import time

from domain.enums import Modality, PatientClass, Priority, Subspecialty
from rules.compiled import compile_rule_set
from rules.defaults import DEFAULT_RULE_SET, DEFAULT_TURNAROUND
from rules.evaluation import apply
from rules.facts import facts_table
from rules.model import (
    Action,
    CapPerRadiologist,
    EscalatePriority,
    ExcludeRadiologists,
    ExcludeSites,
    RequireSubspecialty,
    RestrictRadiologists,
    RestrictSites,
    Rule,
    RuleSet,
    SetPriority,
    SetTurnaround,
    SetWeights,
)
from rules.one import apply_one
from rules.vocabulary import StudyFacts, Weekday

STUDIES = 10_000
RULES = 100
SITES = ("MAIN", "NORTH", "SOUTH", "EAST", "WEST", "KIDS")
PROCEDURES = (  # code, modality, body part, subspecialty, wRVU
    ("CTHEAD", Modality.CT, "HEAD", Subspecialty.NEURO, 0.85),
    ("CTAP", Modality.CT, "ABDOMEN", Subspecialty.BODY, 1.8),
    ("CTCHEST", Modality.CT, "CHEST", Subspecialty.CHEST, 1.0),
    ("CTA_HEAD", Modality.CT, "HEAD", Subspecialty.NEURO, 1.75),
    ("MRBRAIN", Modality.MR, "BRAIN", Subspecialty.NEURO, 2.3),
    ("MRKNEE", Modality.MR, "KNEE", Subspecialty.MSK, 1.35),
    ("MRSPINE", Modality.MR, "SPINE", Subspecialty.NEURO, 1.9),
    ("XRCHEST", Modality.XR, "CHEST", Subspecialty.CHEST, 0.2),
    ("XRHAND", Modality.XR, "HAND", Subspecialty.MSK, 0.17),
    ("USABD", Modality.US, "ABDOMEN", Subspecialty.BODY, 0.8),
    ("MGSCREEN", Modality.MG, "BREAST", Subspecialty.BREAST, 0.75),
    ("PETCT", Modality.PT, "WHOLEBODY", Subspecialty.NUCLEAR, 2.4),
    ("NMBONE", Modality.NM, "WHOLEBODY", Subspecialty.NUCLEAR, 0.9),
    ("FLSWALLOW", Modality.FL, "ESOPHAGUS", Subspecialty.BODY, 0.6),
)
AI_FLAGS = (
    "",
    "",
    "",
    "",
    "intracranial_hemorrhage",
    "pulmonary_embolism",
    "pneumothorax",
    "fracture",
    "large_vessel_occlusion",
)


def synthetic_studies(n: int, seed: int = 7) -> list[StudyFacts]:
    """Open studies with a realistic mix of procedures, classes, ages and AI flags."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        code, modality, part, sub, wrvu = rng.choice(PROCEDURES)
        klass = rng.choices(list(PatientClass), weights=(3, 3, 4))[0]
        priority = rng.choices(list(Priority), weights=(1, 2, 7))[0]
        flag = rng.choice(AI_FLAGS)
        waiting = int(rng.expovariate(1 / 300))
        out.append(
            StudyFacts(
                study_id=i + 1,
                procedure_code=code,
                modality=modality,
                body_part=part,
                subspecialty=sub,
                priority=priority,
                patient_class=klass,
                site=rng.choice(SITES),
                referrer=f"REF{rng.randint(1, 200)}",
                patient_age=rng.randint(0, 99),
                ai_flag=flag,
                ai_score=round(rng.random(), 3) if flag else 0.0,
                hour_of_day=rng.randint(0, 23),
                weekday=rng.choice(list(Weekday)),
                minutes_until_due=rng.randint(-120, 2880) - waiting,
                minutes_waiting=waiting,
                wrvu=wrvu,
            )
        )
    return out


def realistic_rules(n: int, seed: int = 11) -> RuleSet:
    """The default rule set padded with varied routing, urgency and restriction rules."""
    rng = random.Random(seed)
    rules = list(DEFAULT_RULE_SET.rules)
    while len(rules) < n:
        code, modality, part, sub, _ = rng.choice(PROCEDURES)
        site = rng.choice(SITES)
        klass = rng.choice(list(PatientClass)).value
        choice = rng.randrange(8)
        condition: str
        actions: tuple[Action, ...]
        if choice == 0:
            condition = f'modality == "{modality}" and body_part == "{part}" and site == "{site}"'
            actions = (RequireSubspecialty(sub),)
        elif choice == 1:
            condition = f'procedure_code == "{code}" and patient_class == "{klass}"'
            actions = (SetTurnaround(rng.choice((60, 120, 240, 480, 1440))),)
        elif choice == 2:
            condition = (
                f'ai_flag == "{rng.choice(AI_FLAGS[4:])}" and ai_score >= '
                f'{rng.choice((0.7, 0.8, 0.9))} and modality in ["CT", "XR", "MR"]'
            )
            actions = (SetPriority(Priority.STAT), SetTurnaround(45))
        elif choice == 3:
            condition = (
                f'patient_class == "{klass}" and priority != "STAT" and '
                f"minutes_waiting - {rng.choice((60, 120))} > 0"
            )
            actions = (EscalatePriority(due_within_minutes=rng.choice((15, 30, 60))),)
        elif choice == 4:
            condition = f'site == "{site}" and (hour_of_day >= 18 or weekday in ["SAT", "SUN"])'
            actions = (RestrictSites(frozenset({site, "MAIN"})),)
        elif choice == 5:
            condition = f'referrer == "REF{rng.randint(1, 200)}" and modality == "{modality}"'
            actions = (ExcludeRadiologists(frozenset({rng.randint(1, 60)})),)
        elif choice == 6:
            condition = f'patient_age >= 65 and wrvu > 1.5 and body_part == "{part}"'
            actions = (
                RestrictRadiologists(frozenset(rng.sample(range(1, 61), 20))),
                ExcludeSites(frozenset({"KIDS"})),
            )
        else:
            condition = f'modality == "{modality}" and priority == "URGENT"'
            actions = (CapPerRadiologist(rng.choice((2, 3, 5))),)
        rules.append(
            Rule(f"rule {len(rules)}", condition, actions, order=rng.choice((20, 40, 60, 80)))
        )
    rules[-1] = Rule(
        "Weekend weights",
        'weekday in ["SAT", "SUN"]',
        (SetWeights(stability=2.0, fairness=1.0),),
        order=95,
    )
    return RuleSet(tuple(rules[:n]))


def measure_engine() -> dict[str, float]:
    """Measure the pure engine, print the details, and return the headline figures."""
    studies = synthetic_studies(STUDIES)
    rule_set = realistic_rules(RULES)
    started = time.perf_counter()
    compiled = compile_rule_set(rule_set)
    compile_ms = (time.perf_counter() - started) * 1e3
    started = time.perf_counter()
    table = facts_table(studies)
    table_ms = (time.perf_counter() - started) * 1e3
    runs = []
    for _ in range(7):
        started = time.perf_counter()
        evaluation = apply(compiled, table, default_turnaround=DEFAULT_TURNAROUND)
        runs.append((time.perf_counter() - started) * 1e3)
    one = []
    for facts in studies[:2000]:
        started = time.perf_counter()
        apply_one(compiled, facts, default_turnaround=DEFAULT_TURNAROUND)
        one.append((time.perf_counter() - started) * 1e3)
    changed = len(evaluation.changed_rows())
    started = time.perf_counter()
    explained = sum(len(e.applied_rules) for e in evaluation)
    explain_ms = (time.perf_counter() - started) * 1e3
    print(
        f"compile {RULES} rules: {compile_ms:.1f} ms; facts table of {STUDIES}: {table_ms:.1f} ms"
    )
    print(f"apply runs (ms): {', '.join(f'{r:.1f}' for r in runs)}; {changed} studies touched")
    print(
        f"building all {STUDIES} Effect objects with explanations ({explained} applied rules): "
        f"{explain_ms:.0f} ms (done on demand, not part of evaluate_ms)"
    )
    print(f"one study: median {statistics.median(one):.3f} ms, max {max(one):.3f} ms")
    return {
        "rules": RULES,
        "studies": STUDIES,
        "evaluate_ms": round(statistics.median(runs), 2),
        "one_study_ms": round(statistics.median(one), 3),
    }


def main() -> None:
    """Measure and print the figures; the last line is JSON."""
    print(json.dumps(measure_engine()))


if __name__ == "__main__":
    main()
