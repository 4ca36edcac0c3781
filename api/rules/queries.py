"""Rule queries: versions, the active one, a diff, and the vocabulary for editors."""

from __future__ import annotations

from typing import Annotated, Any

import sqlalchemy as sa
import strawberry
from sqlalchemy.orm import Session
from sqlmodel import col

from api.context import Info
from api.rules.types import (
    Rule,
    RuleAttribute,
    RuleChangePair,
    RuleDiff,
    RuleSet,
    rule_from_data,
)
from domain import models as m
from domain.services.rulesets import active_version
from rules.vocabulary import VOCABULARY


def radiologist_codes(session: Session) -> dict[int, str]:
    """Radiologist id -> code (rules store ids; people read codes)."""
    return {
        rid: code
        for rid, code in session.execute(sa.select(col(m.Radiologist.id), col(m.Radiologist.code)))
        if rid is not None
    }


def rule_sets(session: Session, version: int | None = None) -> list[RuleSet]:
    """Saved versions, newest first (or just `version`)."""
    query = sa.select(m.RuleSetVersion).order_by(col(m.RuleSetVersion.version).desc())
    if version is not None:
        query = query.where(col(m.RuleSetVersion.version) == version)
    activation = active_version(session)
    codes = radiologist_codes(session)
    return [
        RuleSet(
            version=row.version or 0,
            created_at=row.created_at,
            author=row.author,
            reason=row.reason,
            based_on=row.based_on,
            active=activation is not None and activation.version == row.version,
            rules=[rule_from_data(r, codes) for r in row.rules],
        )
        for row in session.scalars(query)
    ]


def _key(rule: Rule) -> Any:
    return (rule.description, rule.order, rule.enabled, rule.condition, repr(rule.actions))


@strawberry.type
class RuleQueries:
    @strawberry.field(description="Every saved rule set version, newest first.")
    async def rule_sets(self, info: Info) -> list[RuleSet]:
        return await info.context.db.read(rule_sets)

    @strawberry.field(description="The version in force.")
    async def active_rule_set(self, info: Info) -> RuleSet | None:
        def query(session: Session) -> RuleSet | None:
            activation = active_version(session)
            found = rule_sets(session, activation.version) if activation else []
            return found[0] if found else None

        return await info.context.db.read(query)

    @strawberry.field(description="One saved version.")
    async def rule_set(self, info: Info, version: int) -> RuleSet | None:
        found = await info.context.db.read(lambda s: rule_sets(s, version))
        return found[0] if found else None

    @strawberry.field(description="Rules added, removed and changed from one version to another.")
    async def rule_set_diff(
        self, info: Info, from_: Annotated[int, strawberry.argument(name="from")], to: int
    ) -> RuleDiff | None:
        def query(session: Session) -> RuleDiff | None:
            before, after = rule_sets(session, from_), rule_sets(session, to)
            if not before or not after:
                return None
            old = {r.name: r for r in before[0].rules}
            new = {r.name: r for r in after[0].rules}
            return RuleDiff(
                added=[new[n] for n in new if n not in old],
                removed=[old[n] for n in old if n not in new],
                changed=[
                    RuleChangePair(name=n, before=old[n], after=new[n])
                    for n in new
                    if n in old and _key(old[n]) != _key(new[n])
                ],
            )

        return await info.context.db.read(query)

    @strawberry.field(
        description="Every attribute a condition may use, with its type and allowed values."
    )
    def rule_vocabulary(self) -> list[RuleAttribute]:
        return [
            RuleAttribute(
                name=a.name,
                type=a.type,
                description=a.description,
                values=list(a.values),
                minimum=a.minimum,
                maximum=a.maximum,
            )
            for a in VOCABULARY
        ]
