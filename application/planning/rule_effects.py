"""Rules against the live department: facts from the database, the active compiled rule set,
effects for the balancer, explanations for one exam, and saving with validation.

The pure engine stays in the other modules; this one reads and writes through domain/.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from threading import Lock
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlmodel import col

from application.planning.runner import DepartmentState
from balancer.eligibility import on_shift
from balancer.model import Params, Snapshot, Study
from balancer.terms import RULE_SETTABLE
from domain.db import UnitOfWork
from domain.enums import ExamStatus, RadiologistStatus
from domain.lifecycle import Actor
from domain.models import (
    AiTriageResult,
    Exam,
    Patient,
    Procedure,
    Radiologist,
    Referrer,
    RuleSetVersion,
    Shift,
    Site,
)
from domain.services import rulesets
from rules.actions import KINDS
from rules.compiled import CompiledRuleSet, compile_rule_set
from rules.defaults import DEFAULT_TURNAROUND
from rules.effects import Effect, RuleSetEffect
from rules.errors import RuleError
from rules.evaluation import Evaluation, apply
from rules.facts import facts_table
from rules.model import RuleSet
from rules.one import apply_one
from rules.serialization import rule_set_from_data, rule_set_to_data
from rules.validation import validate_rule_set
from rules.vocabulary import StudyFacts, Weekday

OPEN = (ExamStatus.READY_FOR_READ, ExamStatus.IN_INTERPRETATION)
_WEEKDAYS = list(Weekday)


def _facts_query(now: datetime) -> Any:
    latest_ai = (
        sa.select(col(AiTriageResult.exam_id), sa.func.max(col(AiTriageResult.id)).label("ai_id"))
        .group_by(col(AiTriageResult.exam_id))
        .subquery()
    )
    query = (
        sa.select(
            col(Exam.id),
            col(Procedure.code),
            col(Procedure.modality),
            col(Procedure.body_part),
            col(Procedure.subspecialty),
            col(Exam.priority),
            col(Exam.patient_class),
            col(Site.code),
            col(Referrer.code),
            col(Patient.birth_date),
            col(AiTriageResult.finding),
            col(AiTriageResult.score),
            col(Exam.due_at),
            col(Exam.ready_at),
            col(Exam.ordered_at),
            col(Procedure.wrvu),
        )
        .join(Procedure, col(Procedure.id) == col(Exam.procedure_id))
        .join(Site, col(Site.id) == col(Exam.site_id))
        .join(Referrer, col(Referrer.id) == col(Exam.referrer_id))
        .join(Patient, col(Patient.id) == col(Exam.patient_id))
        .outerjoin(latest_ai, latest_ai.c.exam_id == col(Exam.id))
        .outerjoin(AiTriageResult, col(AiTriageResult.id) == latest_ai.c.ai_id)
    )
    return query


def study_facts(
    session: Session, now: datetime, *, exam_ids: Sequence[int] | None = None
) -> list[StudyFacts]:
    """The rule vocabulary's values for the open studies (or the given exams) at `now`."""
    query = _facts_query(now)
    if exam_ids is None:
        query = query.where(col(Exam.status).in_(OPEN))
    else:
        query = query.where(col(Exam.id).in_(list(exam_ids)))
    out = []
    for (
        exam_id,
        code,
        modality,
        body,
        sub,
        priority,
        pclass,
        site,
        referrer,
        born,
        ai_flag,
        ai_score,
        due_at,
        ready_at,
        ordered_at,
        wrvu,
    ) in session.execute(query):
        waiting_since = ready_at or ordered_at
        age = now.year - born.year - ((now.month, now.day) < (born.month, born.day))
        out.append(
            StudyFacts(
                study_id=int(exam_id),
                procedure_code=code,
                modality=modality,
                body_part=body,
                subspecialty=sub,
                priority=priority,
                patient_class=pclass,
                site=site,
                referrer=referrer,
                patient_age=age,
                ai_flag=ai_flag or "",
                ai_score=float(ai_score or 0.0),
                hour_of_day=now.hour,
                weekday=_WEEKDAYS[now.weekday()],
                minutes_until_due=int((due_at - now).total_seconds() // 60) if due_at else 10**6,
                minutes_waiting=int((now - waiting_since).total_seconds() // 60),
                wrvu=float(wrvu),
            )
        )
    return out


_compiled: dict[str, CompiledRuleSet] = {}
_compiled_lock = Lock()


def compiled_version(session: Session, version: int) -> CompiledRuleSet:
    """A saved version, compiled once per process and content (versions never change).

    Keyed by the stored rules themselves, not the version number: one process may serve
    several databases (tests do), and a number means nothing across them.
    """
    row = session.get(RuleSetVersion, version)
    assert row is not None, version
    key = json.dumps(row.rules, sort_keys=True)
    with _compiled_lock:
        if key not in _compiled:
            rule_set, _ = rule_set_from_data(row.rules)
            _compiled[key] = compile_rule_set(rule_set)
            if len(_compiled) > 64:
                _compiled.pop(next(iter(_compiled)))
        return _compiled[key]


def active(session: Session) -> tuple[int, CompiledRuleSet] | None:
    """The active version and its compiled form, if a rule set has been activated."""
    activation = rulesets.active_version(session)
    if activation is None:
        return None
    return activation.version, compiled_version(session, activation.version)


@dataclass(frozen=True)
class LiveEffects:
    """What the active rules do to every open study right now."""

    version: int | None
    by_exam: dict[int, Effect]
    rule_set: RuleSetEffect


def evaluate(compiled: CompiledRuleSet, facts: list[StudyFacts]) -> Evaluation:
    """Apply a compiled rule set to facts (column-wise over all of them)."""
    return apply(compiled, facts_table(facts), default_turnaround=DEFAULT_TURNAROUND)


def effects_of(
    session: Session, now: datetime, compiled: CompiledRuleSet | None, version: int | None = None
) -> LiveEffects:
    """Effects of a compiled rule set on every open study now (no rule set: no effects)."""
    facts = study_facts(session, now) if compiled is not None else []
    if compiled is None or not facts:
        return LiveEffects(version, {}, RuleSetEffect())
    evaluation = evaluate(compiled, facts)
    effects = {f.study_id: evaluation.effect(i, explain=False) for i, f in enumerate(facts)}
    return LiveEffects(version, effects, evaluation.rule_set)


def live_effects(session: Session, now: datetime) -> LiveEffects:
    """Effects of the active rule set on every open study (the balancer reads these)."""
    current = active(session)
    if current is None:
        return LiveEffects(None, {}, RuleSetEffect())
    return effects_of(session, now, current[1], current[0])


def effects_for(session: Session, now: datetime, exam_ids: list[int]) -> dict[int, Effect]:
    """The active rules' effects on these exams (no explanations), evaluated together."""
    current = active(session)
    facts = study_facts(session, now, exam_ids=exam_ids) if current and exam_ids else []
    if current is None or not facts:
        return {}
    evaluation = evaluate(current[1], facts)
    return {f.study_id: evaluation.effect(i, explain=False) for i, f in enumerate(facts)}


def explain(session: Session, exam_id: int, now: datetime) -> Effect | None:
    """The active rules' effect on one exam, with every rule that fired and what it changed."""
    current = active(session)
    facts = study_facts(session, now, exam_ids=[exam_id])
    if current is None or not facts:
        return None
    return apply_one(current[1], facts[0], default_turnaround=DEFAULT_TURNAROUND)


def check(session: Session, data: list[dict[str, object]]) -> tuple[RuleSet, list[RuleError]]:
    """Read and validate a draft against the department (known radiologists and sites)."""
    rule_set, errors = rule_set_from_data(data)
    radiologists = set(session.scalars(sa.select(col(Radiologist.id))))
    sites = set(session.scalars(sa.select(col(Site.code))))
    errors += validate_rule_set(
        rule_set,
        known_radiologist_ids={r for r in radiologists if r},
        known_sites=sites,
        known_weights=set(RULE_SETTABLE),
    )
    return rule_set, errors


def save(
    *,
    uow: UnitOfWork,
    actor: Actor,
    data: list[dict[str, object]],
    reason: str,
    based_on: int | None,
) -> tuple[int | None, list[RuleError]]:
    """Validate a draft and, when it has no errors, save it as a new version."""
    rule_set, errors = check(uow.session, data)
    if errors:
        return None, errors
    version = rulesets.store_version(
        uow=uow, actor=actor, rules=rule_set_to_data(rule_set), reason=reason, based_on=based_on
    )
    return version.version, []


def adjust_state(
    session: Session, now: datetime, state: DepartmentState, params: Params
) -> tuple[DepartmentState, Params]:
    """The balancer's snapshot and parameters with the active rules applied."""
    return apply_effects(session, state, params, live_effects(session, now))


def apply_effects(
    session: Session, state: DepartmentState, params: Params, effects: LiveEffects
) -> tuple[DepartmentState, Params]:
    """A snapshot and parameters with a rule set's effects applied.

    Site restrictions become reader restrictions through the site each reader is working at
    (their open shift); see `rule_snapshot` for the rest.
    """
    if not effects.by_exam and not effects.rule_set.caps:
        return state, _waiting(params, effects.rule_set)
    readers_at: dict[str, set[int]] = {}
    for radiologist_id, site in session.execute(
        sa.select(col(Shift.radiologist_id), col(Site.code))
        .join(Site, col(Site.id) == col(Shift.site_id))
        .where(col(Shift.ended_at).is_(None))
    ):
        readers_at.setdefault(site, set()).add(radiologist_id)
    snapshot, params = rule_snapshot(
        state.snapshot,
        params,
        effects.by_exam,
        effects.rule_set,
        {site: frozenset(ids) for site, ids in readers_at.items()},
    )
    return DepartmentState(snapshot, state.holders), params


def rule_snapshot(
    snapshot: Snapshot,
    params: Params,
    by_study: Mapping[int, Effect],
    rule_set: RuleSetEffect,
    readers_at: Mapping[str, frozenset[int]],
) -> tuple[Snapshot, Params]:
    """A planner snapshot and parameters with per-study effects and rule-set effects applied.

    Priority, due time, required subspecialty, reader restrictions and caps come from each
    study's effect; `readers_at` (site code -> readers working there) turns site restrictions
    into reader restrictions; weight rules change the objective's weights, and a rule that
    holds the waiting bound has the planner hold it. Pure: the live runner and the simulator
    both use it.
    """
    params = _waiting(params, rule_set)
    if not by_study and not rule_set.caps and not _weights(rule_set):
        return snapshot, params
    caps = dict(rule_set.caps)
    now = snapshot.now
    readers = [
        r
        for r in snapshot.radiologists
        if on_shift(r, now) and r.status == RadiologistStatus.AVAILABLE
    ]
    studies = []
    for study in snapshot.studies:
        effect = by_study.get(study.id)
        if (
            effect is not None
            and effect.subspecialty_if_on_shift
            and not any(
                effect.required_subspecialty in r.subspecialties
                and study.site_id in r.site_privileges
                for r in readers
            )
        ):
            # A preference nobody on shift can honour: the study keeps its own subspecialty.
            effect = replace(effect, required_subspecialty=study.subspecialty)
        studies.append(study if effect is None else _ruled(study, effect, readers_at, caps))
    snapshot = replace(
        snapshot,
        studies=tuple(studies),
        caps={**snapshot.caps, **caps},
        cap_bends={
            **{g: p for g, p in snapshot.cap_bends.items() if g not in caps},
            **rule_set.cap_bends,
        },
    )
    weights = _weights(rule_set)
    if weights:
        params = replace(params, weights=params.weights.replace(**weights))
    return snapshot, params


def _waiting(params: Params, rule_set: RuleSetEffect) -> Params:
    """`params` holding the waiting bound at the rule's margin, when a rule holds it."""
    if rule_set.waiting_margin is None:
        return params
    return replace(
        params, hold_overtake_bound=True, overtake_margin_minutes=rule_set.waiting_margin
    )


def _weights(rule_set: RuleSetEffect) -> dict[str, float]:
    return {name: value for name, value in rule_set.weights.items() if name in RULE_SETTABLE}


def _ruled(
    study: Study, effect: Effect, readers_at: Mapping[str, frozenset[int]], caps: dict[str, int]
) -> Study:
    allowed = effect.allowed_radiologists
    if effect.allowed_sites is not None:
        at_sites = frozenset().union(
            *(readers_at.get(s, frozenset()) for s in effect.allowed_sites)
        )
        allowed = at_sites if allowed is None else allowed & at_sites
    excluded = effect.excluded_radiologists.union(  # with those the snapshot excluded already
        study.excluded_radiologists,
        *(readers_at.get(s, frozenset()) for s in effect.excluded_sites),
    )
    group = min(effect.cap_groups, key=lambda g: (caps.get(g, 10**9), g), default=None)
    due_at = (
        study.ready_at + timedelta(minutes=effect.turnaround_minutes)
        if effect.turnaround_minutes is not None
        else study.due_at
    )
    marked: dict[str, object] = {}
    for kind in _MARKING:
        if kind.mark in effect.marks:
            marked.update(kind.snapshot(study))
    if study.opened_by is not None:  # never moved: its cap group and marks still count
        if group == study.cap_group and not marked:
            return study
        return replace(study, cap_group=group, **marked)  # type: ignore[arg-type]
    if (
        effect.priority == study.priority
        and due_at == study.due_at
        and allowed is None
        and excluded == study.excluded_radiologists
        and effect.required_subspecialty == study.subspecialty
        and group == study.cap_group
        and not marked
    ):
        return study  # no rule changed it (most studies, most of the time)
    return replace(
        study,
        priority=effect.priority,
        due_at=due_at,
        subspecialty=effect.required_subspecialty,
        allowed_radiologists=allowed,
        excluded_radiologists=excluded,
        cap_group=group,
        **marked,  # type: ignore[arg-type]
    )


# Registered actions that tag the studies they match, and set fields of the balancer's study.
_MARKING = tuple(kind for kind in KINDS if kind.mark is not None)


def install_defaults(uow: UnitOfWork, actor: Actor) -> int | None:
    """Save and activate the demo department's default rule set, if no rules exist yet."""
    from rules.defaults import DEFAULT_RULE_SET

    if uow.session.scalars(sa.select(RuleSetVersion).limit(1)).first() is not None:
        return None
    version = rulesets.store_version(
        uow=uow,
        actor=actor,
        rules=rule_set_to_data(DEFAULT_RULE_SET),
        reason="department defaults",
        based_on=None,
    )
    assert version.version is not None
    rulesets.activate(uow=uow, actor=actor, version=version.version, reason="department defaults")
    return version.version
