"""Storing rule set versions, activating them, and AI triage results.

Checking what a rule says is the rules package's job (`rules.store` validates, then calls
these); here versions are written once and never changed, and the active version is the one
most recently activated.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from domain import events as ev
from domain.enums import Role
from domain.errors import FieldIssue, IssueCode, NotFound, NotPermitted, ValidationFailed
from domain.lifecycle import Actor
from domain.models import AiTriageResult, RuleSetActivation, RuleSetVersion
from domain.repositories import UnitOfWork
from domain.services._common import Checks, load_exam
from domain.sql_repositories import SqlRuleSets
from domain.types import pk

EDITORS = {Role.SUPERVISOR, Role.ADMIN}
AI_POSTERS = {Role.INTEGRATION, Role.ADMIN}


def _editor(actor: Actor) -> None:
    require_editor(actor, "change rules")


def require_editor(actor: Actor, action: str) -> None:
    """Refuse rule work to anyone but supervisors and admins."""
    if actor.role not in EDITORS:
        raise NotPermitted(f"role {actor.role.value} may not {action}")


def active_version(session: Session) -> RuleSetActivation | None:
    """The latest activation (its version is the department's policy), if any (for the
    application layer's reads; a command asks `uow.rule_sets.active()`)."""
    return SqlRuleSets(session).active()


def store_version(
    *, uow: UnitOfWork, actor: Actor, rules: list[dict[str, Any]], reason: str, based_on: int | None
) -> RuleSetVersion:
    """Save an already validated rule set as a new immutable version."""
    _editor(actor)
    checks = Checks()
    checks.text(reason, "reason", max_length=500)
    checks.done()
    if based_on is not None and uow.rule_sets.version(based_on) is None:
        raise NotFound("rule set version", str(based_on), field="based_on")
    version = RuleSetVersion(
        created_at=uow.now, author=actor.id, reason=reason.strip(), based_on=based_on, rules=rules
    )
    uow.add(version)
    uow.flush()
    assert version.version is not None
    uow.emit(ev.RuleSetSaved(at=uow.now, actor=actor.id, role=actor.role, version=version.version))
    return version


def activate(*, uow: UnitOfWork, actor: Actor, version: int, reason: str) -> RuleSetActivation:
    """Make a saved version the policy (activating an older one is a rollback)."""
    _editor(actor)
    checks = Checks()
    checks.text(reason, "reason", max_length=500)
    checks.done()
    if uow.rule_sets.version(version) is None:
        raise NotFound("rule set version", str(version), field="version")
    previous = uow.rule_sets.active()
    if previous is not None and previous.version == version:
        raise ValidationFailed(
            [
                FieldIssue(
                    "version", IssueCode.ALREADY_ACTIVE, f"version {version} is already active"
                )
            ]
        )
    activation = RuleSetActivation(
        version=version, activated_at=uow.now, activated_by=actor.id, reason=reason.strip()
    )
    uow.add(activation)
    uow.flush()
    uow.emit(
        ev.RuleSetActivated(
            at=uow.now,
            actor=actor.id,
            role=actor.role,
            version=version,
            previous_version=previous.version if previous else None,
        )
    )
    return activation


def post_ai_triage(
    *, uow: UnitOfWork, actor: Actor, exam_id: int, finding: str, score: float, model: str
) -> AiTriageResult:
    """Record an AI triage finding for a study; rules may act on it at once."""
    if actor.role not in AI_POSTERS:
        raise NotPermitted(f"role {actor.role.value} may not post AI results")
    checks = Checks()
    checks.text(finding, "finding", max_length=64)
    checks.require(
        all(c.isalnum() or c == "_" for c in finding),
        "finding",
        IssueCode.INVALID_FORMAT,
        "letters, digits and underscores, e.g. intracranial_hemorrhage",
    )
    checks.require(0.0 <= score <= 1.0, "score", IssueCode.OUT_OF_RANGE, "must be between 0 and 1")
    checks.text(model, "model", max_length=64)
    checks.done()
    load_exam(uow, exam_id)
    result = AiTriageResult(
        exam_id=exam_id,
        finding=finding.lower(),
        score=score,
        model=model.strip(),
        posted_at=uow.now,
        posted_by=actor.id,
    )
    uow.add(result)
    uow.flush()
    uow.emit(
        ev.AiTriagePosted(
            at=uow.now,
            actor=actor.id,
            role=actor.role,
            exam_id=exam_id,
            finding=result.finding,
            score=score,
        )
    )
    assert pk(result)
    return result
