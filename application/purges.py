"""Studies past retention, and the two transactions of a purge from the PACS.

A study is deleted from the PACS only by `purgeExpiredStudies` (interfaces/dicom/retention.py):
`claim_for_purge` claims the studies (past expiry, under no active legal hold) in one
transaction, the PACS is asked to delete them, and `record_purge` records what was deleted in a
second. The expiries and holds themselves are `application/retention.py`.
"""

from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlmodel import col

from application.retention import RETAINED, active_holds, refresh_expiries
from domain.audit import touch_exam
from domain.db import UnitOfWork
from domain.errors import IssueCode, NotFound
from domain.lifecycle import Actor
from domain.models import ArchivedStudy, ArchivedStudyState, LegalHold, PurgeOutcome, StudyPurge
from domain.services._common import Checks

# A purge asks the PACS about at most 500 studies, four at a time, each within 30 s: about an
# hour at worst. A claim twice that old was abandoned by a process that stopped.
ABANDONED_AFTER = timedelta(hours=2)


def expired(uow: UnitOfWork, *, first: int) -> list[ArchivedStudy]:
    """Studies past their expiry today (held ones included), earliest expiry first."""
    refresh_expiries(uow)
    today = uow.now.date()
    found = list(
        uow.session.scalars(
            sa.select(ArchivedStudy)
            .where(
                col(ArchivedStudy.state).in_(RETAINED),
                col(ArchivedStudy.expires_on) <= today,
            )
            .order_by(col(ArchivedStudy.expires_on), col(ArchivedStudy.id))
            .limit(first)
        )
    )
    for study in found:  # the list names exams: the read is audited with them
        touch_exam(study.exam_id)
    return found


def claim_for_purge(
    uow: UnitOfWork,
    actor: Actor,
    *,
    pacs_ids: list[str] | None,
    reason: str,
    first: int,
) -> list[StudyPurge]:
    """Claim studies for deletion: these (each must be past expiry and unheld: otherwise
    nothing is claimed) or, without a list, every expired unheld one (up to `first`)."""
    checks = Checks()
    checks.text(reason, "reason", max_length=500)
    checks.done()
    release_abandoned(uow)
    refresh_expiries(uow)
    today = uow.now.date()
    query = sa.select(ArchivedStudy).where(col(ArchivedStudy.state).in_(RETAINED))
    if pacs_ids is not None:
        query = query.where(col(ArchivedStudy.pacs_id).in_(pacs_ids))
    else:
        query = query.where(col(ArchivedStudy.expires_on) <= today).limit(first)
    studies = list(uow.session.scalars(query.order_by(col(ArchivedStudy.id)).with_for_update()))
    held = active_holds(uow.session, studies)
    if pacs_ids is not None:
        _refuse_any(pacs_ids, studies, held, today)
    claims = []
    for study in studies:
        if study.id in held:
            continue
        assert study.expires_on is not None
        claim = StudyPurge(
            archived_study_id=study.id or 0,
            pacs_id=study.pacs_id,
            study_instance_uid=study.study_instance_uid,
            accession_number=study.accession_number,
            exam_id=study.exam_id,
            study_date=study.study_date,
            expires_on=study.expires_on,
            retention_rule_id=study.retention_rule_id,
            previous_state=study.state,
            outcome=PurgeOutcome.DELETING,
            reason=reason.strip(),
            purged_by=actor.id,
            requested_at=uow.now,
        )
        study.state = ArchivedStudyState.PURGING
        touch_exam(study.exam_id)  # the mutation's audit record names whose studies go
        uow.add(claim)
        claims.append(claim)
    uow.flush()
    return claims


def release_abandoned(uow: UnitOfWork) -> int:
    """Give back the studies of purges that stopped between their claim and their record (a
    process killed while the PACS was asked): each goes back to what it was, its claim FAILED,
    so the next purge checks its expiry and holds again (a study the PACS had already deleted
    then answers 404, which counts as deleted). How many."""
    stale = uow.session.scalars(
        sa.select(StudyPurge)
        .where(
            col(StudyPurge.outcome) == PurgeOutcome.DELETING,
            col(StudyPurge.requested_at) < uow.now - ABANDONED_AFTER,
        )
        .with_for_update()
    ).all()
    for claim in stale:
        study = uow.session.get(ArchivedStudy, claim.archived_study_id)
        assert study is not None
        claim.outcome, claim.finished_at = PurgeOutcome.FAILED, uow.now
        claim.error = "abandoned: the purge stopped before recording what the PACS did"
        if study.state == ArchivedStudyState.PURGING:
            study.state, study.updated_at = claim.previous_state, uow.now
    return len(stale)


def _refuse_any(
    pacs_ids: list[str],
    studies: list[ArchivedStudy],
    held: dict[int, list[LegalHold]],
    today: date,
) -> None:
    by_pacs = {s.pacs_id: s for s in studies}
    checks = Checks()
    for index, pacs_id in enumerate(pacs_ids):
        field = f"pacs_ids.{index}"
        study = by_pacs.get(pacs_id)
        if study is None:
            checks.require(False, field, IssueCode.NOT_FOUND, f"no study {pacs_id} in the PACS")
        elif study.id in held:
            reasons = "; ".join(h.reason for h in held[study.id or 0])
            checks.require(False, field, IssueCode.LEGAL_HOLD, f"under legal hold: {reasons}")
        elif study.expires_on is None or study.expires_on > today:
            until = study.expires_on.isoformat() if study.expires_on else "indefinitely"
            checks.require(False, field, IssueCode.NOT_EXPIRED, f"kept until {until}")
    checks.done()


def record_purge(uow: UnitOfWork, *, outcomes: dict[int, str | None]) -> list[StudyPurge]:
    """Record each claimed deletion's outcome (claim id → None if deleted, else the error):
    a deleted study is PURGED; a failed one goes back to what it was."""
    finished = []
    for claim_id, error in outcomes.items():
        claim = uow.session.get(StudyPurge, claim_id)
        if claim is None:
            raise NotFound("purge", str(claim_id), field="claim_id")
        study = uow.session.get(ArchivedStudy, claim.archived_study_id)
        assert study is not None
        claim.finished_at = uow.now
        if error is None:
            claim.outcome, study.state = PurgeOutcome.DELETED, ArchivedStudyState.PURGED
        else:
            claim.outcome, claim.error = PurgeOutcome.FAILED, error[:500]
            study.state = claim.previous_state
        study.updated_at = uow.now
        finished.append(claim)
    return finished


def purges(session: Session, first: int) -> list[StudyPurge]:
    """The latest deletions from the PACS, newest first."""
    return list(
        session.scalars(sa.select(StudyPurge).order_by(col(StudyPurge.id).desc()).limit(first))
    )


__all__ = [
    "ABANDONED_AFTER",
    "claim_for_purge",
    "expired",
    "purges",
    "record_purge",
    "release_abandoned",
]
