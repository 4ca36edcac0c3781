"""Rule set mutations: save (validated), activate or roll back, preview, AI triage."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import strawberry
from sqlalchemy.orm import Session
from sqlmodel import col

from api.commands import exam_step
from api.context import Info
from api.errors import ErrorCode, NotFound, ValidationFailed, attempt
from api.exams.types import Exam
from api.rules.actions import ACTION_FIELDS
from api.rules.inputs import (
    ActivateRuleSetInput,
    PostAiTriageInput,
    PreviewRuleSetInput,
    RuleInput,
    SaveRuleSetInput,
    SimulateRuleSetInput,
)
from api.rules.queries import radiologist_codes, rule_sets
from api.rules.types import (
    RuleError,
    RuleSet,
    RuleSetInvalid,
    RuleSetSimulation,
    RuleWarning,
    SimulatedDay,
    SimulatedPriority,
    StudyRuleChange,
)
from application.planning import rule_simulation as simulation
from application.planning.rule_effects import check, compiled_version, save
from application.planning.whatif import Preview, preview, warnings_for
from balancer.simulation.scenario import ScenarioSpec
from domain import errors as d
from domain import models as m
from domain.db import UnitOfWork
from domain.services import rulesets
from rules import errors as rule_errors
from rules.actions.base import FieldType
from rules.serialization import rule_set_to_data


@strawberry.type
class RuleSetSaved:
    rule_set: RuleSet
    warnings: list[RuleWarning]


@strawberry.type
class RuleSetActivated:
    rule_set: RuleSet
    previous_version: int | None


@strawberry.type(description="What the draft would change now; nothing was written.")
class RuleSetPreview:
    changes: list[StudyRuleChange]
    warnings: list[RuleWarning]


@strawberry.type(description="Stored; `exam.appliedRules` shows what the rules now do with it.")
class AiTriagePosted:
    exam: Exam


SaveRuleSetResult = Annotated[
    RuleSetSaved | RuleSetInvalid | NotFound | ValidationFailed,
    strawberry.union("SaveRuleSetResult"),
]
ActivateRuleSetResult = Annotated[
    RuleSetActivated | NotFound | ValidationFailed, strawberry.union("ActivateRuleSetResult")
]
PreviewRuleSetResult = Annotated[
    RuleSetPreview | RuleSetInvalid, strawberry.union("PreviewRuleSetResult")
]
SimulateRuleSetResult = Annotated[
    RuleSetSimulation | RuleSetInvalid | ValidationFailed, strawberry.union("SimulateRuleSetResult")
]
PostAiTriageResult = Annotated[
    AiTriagePosted | NotFound | ValidationFailed, strawberry.union("PostAiTriageResult")
]


def _data(rules: list[RuleInput], session: Session) -> tuple[list[dict[str, Any]], list[RuleError]]:
    """GraphQL rules as stored data; radiologist codes become ids (unknown ones are errors)."""
    ids = {code: rid for rid, code in radiologist_codes(session).items()}
    data, errors = [], []
    for index, rule in enumerate(rules):
        actions = []
        for k, action in enumerate(rule.actions):
            raw: dict[str, Any] = {"kind": action.kind.value}
            for f in ACTION_FIELDS:
                value = getattr(action, f.name)
                if value is not None and f.type is not FieldType.RADIOLOGISTS:
                    raw[f.stored] = getattr(value, "value", value)
            if action.radiologist_codes is not None:
                unknown = [c for c in action.radiologist_codes if c not in ids]
                if unknown:
                    errors.append(
                        RuleError(
                            rule_index=index,
                            rule_name=rule.name,
                            field=f"actions[{k}].radiologistCodes",
                            code=rule_errors.ErrorCode.UNKNOWN_RADIOLOGIST,
                            message=f"unknown radiologist(s): {', '.join(unknown)}",
                        )
                    )
                raw["radiologist_ids"] = [ids[c] for c in action.radiologist_codes if c in ids]
            actions.append(raw)
        data.append(
            {
                "name": rule.name,
                "description": rule.description,
                "order": rule.order,
                "enabled": rule.enabled,
                "condition": rule.condition,
                "actions": actions,
            }
        )
    return data, errors


def _errors(found: list[rule_errors.RuleError]) -> list[RuleError]:
    return [
        RuleError(
            rule_index=e.rule_index,
            rule_name=e.rule_name,
            field=e.field,
            code=e.code,
            message=e.message,
            line=e.position.line if e.position else None,
            column=e.position.column if e.position else None,
        )
        for e in found
    ]


def _invalid(errors: list[RuleError]) -> RuleSetInvalid:
    return RuleSetInvalid(
        code=ErrorCode.VALIDATION_FAILED,
        field="input.rules",
        message=f"the rule set has {len(errors)} error(s); nothing was saved",
        errors=errors,
    )


def _warnings(found: list[rule_errors.RuleWarning]) -> list[RuleWarning]:
    return [
        RuleWarning(
            code=w.code,
            message=w.message,
            rule_names=list(w.rule_names),
            exam_count=len(w.study_ids),
        )
        for w in found
    ]


@strawberry.type
class RuleMutations:
    @strawberry.mutation(
        description="Validate a rule set and save it as a new version "
        "(not yet active). Errors come back typed; nothing saved."
    )
    async def save_rule_set(self, info: Info, input: SaveRuleSetInput) -> SaveRuleSetResult:
        actor = info.context.actor

        async def run() -> RuleSetSaved | RuleSetInvalid:
            def command(uow: UnitOfWork) -> RuleSetSaved | RuleSetInvalid:
                data, errors = _data(input.rules, uow.session)
                version, found = save(
                    uow=uow, actor=actor, data=data, reason=input.reason, based_on=input.based_on
                )
                errors += _errors(found)
                if errors or version is None:
                    return _invalid(errors)
                warnings = warnings_for(
                    uow.session, uow.now, compiled_version(uow.session, version)
                )
                return RuleSetSaved(
                    rule_set=rule_sets(uow.session, version)[0], warnings=_warnings(warnings)
                )

            return await info.context.commands.run("saveRuleSet", command)

        return await attempt(run, errors=NotFound | ValidationFailed)

    @strawberry.mutation(
        description="Make a saved version the policy (an older one rolls "
        "back); every open study is re-evaluated and re-planned."
    )
    async def activate_rule_set(
        self, info: Info, input: ActivateRuleSetInput
    ) -> ActivateRuleSetResult:
        actor = info.context.actor

        async def run() -> RuleSetActivated:
            def command(uow: UnitOfWork) -> RuleSetActivated:
                previous = rulesets.active_version(uow.session)
                rulesets.activate(uow=uow, actor=actor, version=input.version, reason=input.reason)
                compiled_version(uow.session, input.version)  # compile now, not in the re-plan
                return RuleSetActivated(
                    rule_set=rule_sets(uow.session, input.version)[0],
                    previous_version=previous.version if previous else None,
                )

            return await info.context.commands.run("activateRuleSet", command)

        return await attempt(run, errors=NotFound | ValidationFailed)

    @strawberry.mutation(
        description="What a draft would change for the open studies now "
        "(priority, due time, subspecialty, eligible readers, "
        "assignment), and its warnings. Writes nothing."
    )
    async def preview_rule_set(
        self, info: Info, input: PreviewRuleSetInput
    ) -> PreviewRuleSetResult:
        now = info.context.db.clock()

        def query(session: Session) -> RuleSetPreview | RuleSetInvalid:
            data, errors = _data(input.rules, session)
            rule_set, found = check(session, data)
            errors += _errors(found)
            if errors:
                return _invalid(errors)
            return _preview(preview(session, now, rule_set), session)

        return await info.context.db.read(query)

    @strawberry.mutation(
        description="Replay a simulated day under the active rule set and "
        "under the draft, and compare the key figures side by "
        "side. Writes nothing; takes seconds."
    )
    async def simulate_rule_set(
        self, info: Info, input: SimulateRuleSetInput
    ) -> SimulateRuleSetResult:
        actor = info.context.actor
        scenario = input.scenario

        def query(session: Session) -> tuple[list[dict[str, Any]] | None, list[dict[str, Any]]]:
            rulesets.require_editor(actor, "simulate rules")
            data, errors = _data(input.rules, session)
            rule_set, found = check(session, data)
            errors += _errors(found)
            if errors:
                raise _Invalid(_invalid(errors))
            current = rulesets.active_version(session)
            version = (
                session.get(m.RuleSetVersion, current.version) if current is not None else None
            )
            active = version.rules if version is not None else None
            return active, rule_set_to_data(rule_set)

        async def run() -> RuleSetSimulation | RuleSetInvalid:
            spec = _scenario(scenario)
            try:
                active, draft = await info.context.db.read(query)
            except _Invalid as invalid:
                return invalid.result
            loop = asyncio.get_running_loop()
            result = await loop.run_in_executor(None, simulation.compare, spec, active, draft)
            return _simulation(result)

        return await attempt(run, errors=ValidationFailed)

    @strawberry.mutation(
        description="Integration: post an AI triage finding for a study; "
        "rules may act on it at once."
    )
    async def post_ai_triage(self, info: Info, input: PostAiTriageInput) -> PostAiTriageResult:
        return await exam_step(
            info,
            input.exam_id,
            lambda uow, actor, pk: rulesets.post_ai_triage(
                uow=uow,
                actor=actor,
                exam_id=pk,
                finding=input.finding,
                score=input.score,
                model=input.model,
            ),
            lambda _, exam: AiTriagePosted(exam=exam),
            errors=NotFound | ValidationFailed,
        )


class _Invalid(Exception):
    def __init__(self, result: RuleSetInvalid) -> None:
        self.result = result


_SCENARIO_LIMITS = {
    "studies": (1, simulation.MAX_STUDIES),
    "radiologists": (1, simulation.MAX_RADIOLOGISTS),
    "capacity_ratio": (0.5, 3.0),
}


def _scenario(scenario: Any) -> ScenarioSpec:
    issues = []
    for name, (low, high) in _SCENARIO_LIMITS.items():
        value = getattr(scenario, name)
        if not low <= value <= high:
            camel = "".join(w.capitalize() if i else w for i, w in enumerate(name.split("_")))
            issues.append(
                d.FieldIssue(
                    f"scenario.{camel}",
                    d.IssueCode.OUT_OF_RANGE,
                    f"must be between {low} and {high}, not {value}",
                )
            )
    if issues:
        raise d.ValidationFailed(issues)
    return ScenarioSpec(
        seed=scenario.seed,
        studies=scenario.studies,
        radiologists=scenario.radiologists,
        capacity_ratio=scenario.capacity_ratio,
    )


def _day(figures: simulation.DayFigures) -> SimulatedDay:
    return SimulatedDay(
        breach_rate=figures.breach_rate,
        wrvu_max_over_mean=figures.wrvu_max_over_mean,
        unread=figures.unread,
        ineligible_reads=figures.ineligible,
        seconds=figures.seconds,
        by_priority=[
            SimulatedPriority(
                priority=p.priority,
                studies=p.studies,
                breach_rate=p.breach_rate,
                turnaround_p50_minutes=p.tat_p50_min,
                turnaround_p90_minutes=p.tat_p90_min,
                turnaround_max_minutes=p.tat_max_min,
            )
            for p in figures.by_priority
        ],
    )


def _simulation(result: simulation.Comparison) -> RuleSetSimulation:
    spec = result.spec
    return RuleSetSimulation(
        studies=spec.studies,
        radiologists=spec.radiologists,
        seed=spec.seed,
        active=_day(result.active),
        draft=_day(result.draft),
        caveats=list(result.caveats),
    )


def _preview(result: Preview, session: Session) -> RuleSetPreview:
    codes = radiologist_codes(session)
    exams = {
        e.id: e
        for e in session.query(m.Exam).filter(
            col(m.Exam.id).in_([c.exam_id for c in result.changes])
        )
    }
    changes = []
    for c in result.changes:
        b, a = c.before, c.after
        changes.append(
            StudyRuleChange(
                exam=Exam.from_model(exams[c.exam_id]),
                fields=list(c.fields),
                priority_before=b.effect.priority,
                priority_after=a.effect.priority,
                due_at_before=b.study.due_at if b.study else None,
                due_at_after=a.study.due_at if a.study else None,
                subspecialty_before=b.effect.required_subspecialty,
                subspecialty_after=a.effect.required_subspecialty,
                eligible_before=[codes[r] for r in b.eligible],
                eligible_after=[codes[r] for r in a.eligible],
                assigned_before=codes.get(b.assigned) if b.assigned else None,
                assigned_after=codes.get(a.assigned) if a.assigned else None,
            )
        )
    return RuleSetPreview(changes=changes, warnings=_warnings(result.warnings))
