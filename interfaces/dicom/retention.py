"""Deleting studies past retention from the PACS: only by a supervisor's explicit purge.

`purge_expired_studies` claims the studies in one transaction (`application.retention`: past
expiry, under no active legal hold; a named study that is not is refused with the others, and
nothing is claimed), asks Orthanc to delete each (`DELETE /studies/{id}`; a study the PACS no
longer has counts as deleted), then records each outcome in a second transaction: what was
deleted, by whom and why, in `study_purges`. A study the PACS would not delete goes back to
what it was, its failure recorded. The mutation itself is audited like every other.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import httpx

from application import purges
from application.authorization import authorize
from application.commands import Commands
from domain.db import Database
from domain.errors import FieldIssue, IssueCode, ValidationFailed
from domain.lifecycle import Actor
from domain.models import StudyPurge
from interfaces.dicom.pacs import Orthanc

PURGE = "purgeExpiredStudies"


@dataclass(frozen=True, slots=True)
class Purged:
    """Each study the purge claimed, with its recorded outcome."""

    studies: list[StudyPurge]


async def delete_study(orthanc: Orthanc, pacs_id: str) -> str | None:
    """Delete one study from Orthanc: None when it is gone, else why not."""
    try:
        response = await orthanc.client.delete(f"/studies/{pacs_id}")
    except httpx.HTTPError as unreachable:
        return f"the PACS could not be reached: {unreachable}"
    if response.status_code == 404 or response.is_success:
        return None
    return f"the PACS answered {response.status_code}: {response.text[:200]}"


async def purge_expired_studies(
    db: Database,
    actor: Actor,
    orthanc: Orthanc | None,
    *,
    pacs_ids: list[str] | None,
    reason: str,
    first: int = 500,
) -> Purged:
    """Delete from the PACS these studies, or every one past retention and not held."""
    authorize(actor, PURGE)  # first: a caller without the right learns nothing more
    commands = Commands(db, actor)
    if orthanc is None:
        raise ValidationFailed(
            [FieldIssue("pacs_ids", IssueCode.INVALID_VALUE, "no PACS is configured")]
        )
    claims = await commands.run(
        PURGE,
        lambda uow: [
            (c.id or 0, c.pacs_id)
            for c in purges.claim_for_purge(
                uow, actor, pacs_ids=pacs_ids, reason=reason, first=first
            )
        ],
    )
    if not claims:
        return Purged([])
    gate = asyncio.Semaphore(4)

    async def one(pacs_id: str) -> str | None:
        async with gate:
            return await delete_study(orthanc, pacs_id)

    errors = await asyncio.gather(*(one(pacs_id) for _, pacs_id in claims))
    outcomes = {claim_id: error for (claim_id, _), error in zip(claims, errors, strict=True)}
    return Purged(
        await commands.run(PURGE, lambda uow: purges.record_purge(uow, outcomes=outcomes))
    )
