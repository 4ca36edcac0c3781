"""Reading resources as an actor sees them: one statement per page, bounded by their scope."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from fhir.resources.R4B.resource import Resource
from sqlalchemy.orm import Session

from domain.access import scope_of
from domain.audit import Trail
from domain.lifecycle import Actor
from interfaces.fhir.kind import ResourceType, Row


@dataclass(frozen=True)
class Page:
    """The resources of one page, and the id after which the next page starts (None: last)."""

    resources: list[Resource]
    next_after: int | None


def _run(
    session: Session,
    kind: ResourceType,
    actor: Actor,
    where: Sequence[sa.ColumnElement[bool]],
    limit: int,
) -> tuple[list[Row], dict[int, Any]]:
    scope = scope_of(actor)
    query = kind.statement().where(*where)
    bound = kind.visible(scope)
    if bound is not None:
        query = query.where(bound)
    rows = list(session.execute(query.order_by(kind.key).limit(limit), scope.parameters()))
    more = dict(kind.more(session, rows)) if kind.more is not None else {}
    return rows, more


def _built(
    kind: ResourceType, actor: Actor, rows: Sequence[Row], more: dict[int, Any], trail: Trail | None
) -> list[Resource]:
    resources = []
    for row in rows:
        if trail is not None:  # what the request's audit record lists
            trail.note_patient(row.patient_id, row.mrn)
            trail.note_exam(row.exam_id, mrn=row.mrn)
        resources.append(kind.build(row, actor.phi, more.get(int(row[0]))))
    return resources


def read_one(
    session: Session, kind: ResourceType, actor: Actor, key: int, trail: Trail | None
) -> Resource | None:
    """The resource with this logical id, if the actor may see it."""
    rows, more = _run(session, kind, actor, [kind.key == key], 1)
    built = _built(kind, actor, rows, more, trail)
    return built[0] if built else None


def search_page(
    session: Session,
    kind: ResourceType,
    actor: Actor,
    where: Sequence[sa.ColumnElement[bool]],
    *,
    after: int,
    count: int,
    trail: Trail | None,
) -> Page:
    """A page of the matching resources in logical id order, after `after`."""
    rows, more = _run(session, kind, actor, [*where, kind.key > after], count + 1)
    shown = rows[:count]
    last = shown[-1] if len(rows) > count else None
    next_after = None if last is None else int(last[0])
    return Page(_built(kind, actor, shown, more, trail), next_after)
