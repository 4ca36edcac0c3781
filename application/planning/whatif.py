"""See the effect first: what a draft rule set would change for the open studies right now.

Nothing is written. Both the active rules and the draft are applied to the same facts; the
balancer plans the same snapshot under each, so a supervisor sees changed priorities, due
times, subspecialties, eligible readers and assignments side by side, and the warnings.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from application.planning.rule_effects import (
    LiveEffects,
    active,
    apply_effects,
    evaluate,
    study_facts,
)
from application.planning.runner import DepartmentState, read_state
from balancer.eligibility import is_eligible
from balancer.model import Params, Study
from balancer.planner import plan
from rules.compiled import CompiledRuleSet, compile_rule_set
from rules.effects import Effect
from rules.errors import RuleWarning
from rules.evaluation import Evaluation
from rules.facts import facts_table
from rules.lint import contradictions, unassignable, unmatched_rules
from rules.model import RuleSet
from rules.preview import changes


@dataclass(frozen=True)
class Side:
    """One rule set's view of a study: its effect, who may read it and who would."""

    effect: Effect
    study: Study | None
    eligible: tuple[int, ...]
    assigned: int | None


@dataclass(frozen=True)
class StudyPreview:
    """A study the draft would treat differently."""

    exam_id: int
    fields: tuple[str, ...]
    before: Side
    after: Side


@dataclass(frozen=True)
class Preview:
    """Every difference, and the draft's warnings."""

    changes: list[StudyPreview]
    warnings: list[RuleWarning]


def _effects(evaluation: Evaluation, ids: list[int]) -> LiveEffects:
    return LiveEffects(
        None,
        {sid: evaluation.effect(i, explain=False) for i, sid in enumerate(ids)},
        evaluation.rule_set,
    )


def _plan_under(
    session: Session, state: DepartmentState, evaluation: Evaluation, ids: list[int]
) -> tuple[DepartmentState, dict[int, int]]:
    ruled, params = apply_effects(session, state, Params(), _effects(evaluation, ids))
    result = plan(ruled.snapshot, params)
    return ruled, {a.study_id: a.radiologist_id for a in result.assignments.values()}


def warnings_for(session: Session, now: datetime, compiled: CompiledRuleSet) -> list[RuleWarning]:
    """The non-blocking findings about a rule set against the open studies now."""
    facts = study_facts(session, now)
    if not facts:
        return []
    evaluation = evaluate(compiled, facts)
    ids = [f.study_id for f in facts]
    ruled, _ = apply_effects(session, read_state(session, now), Params(), _effects(evaluation, ids))
    studies = {s.id: s for s in ruled.snapshot.studies}
    readers = ruled.snapshot.radiologists

    def assignable(effect: Effect) -> bool:
        study = studies.get(effect.study_id)
        return study is None or any(is_eligible(study, r, now) for r in readers)

    return [
        *unmatched_rules(evaluation, facts_table(facts)),
        *contradictions(evaluation),
        *unassignable(evaluation, assignable),
    ]


def preview(session: Session, now: datetime, draft: RuleSet) -> Preview:
    """What activating `draft` would change now, compared with the active rules."""
    compiled_draft = compile_rule_set(draft)
    current = active(session)
    compiled_active = current[1] if current else compile_rule_set(RuleSet())
    facts = study_facts(session, now)
    if not facts:
        return Preview([], [])
    before, after = evaluate(compiled_active, facts), evaluate(compiled_draft, facts)
    ids = [f.study_id for f in facts]
    state = read_state(session, now)
    ruled_before, assigned_before = _plan_under(session, state, before, ids)
    ruled_after, assigned_after = _plan_under(session, state, after, ids)
    readers = state.snapshot.radiologists
    by_id_before = {s.id: s for s in ruled_before.snapshot.studies}
    by_id_after = {s.id: s for s in ruled_after.snapshot.studies}
    differences = {c.study_id: c for c in changes(before, after)}
    out = []
    for sid in ids:
        moved = assigned_before.get(sid) != assigned_after.get(sid)
        change = differences.get(sid)
        if change is None and not moved:
            continue

        def side(
            evaluation: Evaluation,
            studies: dict[int, Study],
            assigned: dict[int, int],
            sid: int = sid,
        ) -> Side:
            study = studies.get(sid)
            eligible = tuple(
                r.id for r in readers if study is not None and is_eligible(study, r, now)
            )
            return Side(evaluation.effect_for(sid), study, eligible, assigned.get(sid))

        fields = tuple(change.fields) if change else ()
        out.append(
            StudyPreview(
                sid,
                fields + (("assignment",) if moved else ()),
                side(before, by_id_before, assigned_before),
                side(after, by_id_after, assigned_after),
            )
        )
    return Preview(out, warnings_for(session, now, compiled_draft))
