"""Retention of the studies the PACS holds: the policy's rules, legal holds, expiries, purges.

The arithmetic is `domain.retention` (pure); this module is its transactions. The policy lives
in a table supervisors edit (`setRetentionRule`), not in settings: a change is made by the
department's records officer, not a deployment, takes effect at once on every replica, and is
audited like any command. Each change works out the expiry of every study again in its own
transaction; studies the follower recorded or updated since their expiry was worked out are
worked out again before any list or purge (and hourly by the clock).

The studies past retention and their deletion are `application/purges.py`.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlmodel import col

from domain.db import UnitOfWork
from domain.enums import Modality
from domain.errors import IssueCode, NotFound
from domain.lifecycle import Actor
from domain.models import (
    ArchivedStudy,
    ArchivedStudyState,
    Exam,
    LegalHold,
    Patient,
    Procedure,
    RetentionRule,
    Site,
)
from domain.models._columns import core_table
from domain.retention import RetentionTerms, RuleKey, choose, expiry
from domain.services._common import Checks

# Studies radflow knows the patient of, still in the PACS under their pacs id. An unmatched
# study has no expiry (its patient is not known: kept until reconciled); a reconciled row's
# PACS copy was replaced by its fixed study, which has a row of its own.
RETAINED = (ArchivedStudyState.PENDING, ArchivedStudyState.READY, ArchivedStudyState.REJECTED)


@dataclass(frozen=True, slots=True, kw_only=True)
class RuleChange:
    """A retention rule as set, and how many studies' expiries were worked out again."""

    rule: RetentionRule
    recomputed: int


def _scope(modality: Modality | None, site_code: str | None) -> str:
    return f"{modality.value if modality else '*'}@{site_code or '*'}"


def set_rule(
    uow: UnitOfWork,
    actor: Actor,
    *,
    modality: Modality | None,
    site_code: str | None,
    terms: RetentionTerms,
    reason: str,
) -> RuleChange:
    """Create or change the rule for one class of study, then rework every study's expiry."""
    checks = Checks()
    checks.text(reason, "reason", max_length=500)
    for name, value, top in (
        ("years", terms.years, 200),
        ("majority_age", terms.majority_age, 30),
        ("years_after_majority", terms.years_after_majority, 200),
    ):
        checks.require(
            0 <= value <= top, name, IssueCode.OUT_OF_RANGE, f"must be between 0 and {top}"
        )
    checks.done()
    site_id = None
    if site_code is not None:
        site = uow.session.scalar(sa.select(Site).where(col(Site.code) == site_code))
        if site is None:
            raise NotFound("site", site_code, field="site_code")
        site_id = site.id
    scope = _scope(modality, site_code)
    rule = uow.session.scalar(
        sa.select(RetentionRule).where(col(RetentionRule.scope) == scope).with_for_update()
    )
    if rule is None:
        rule = RetentionRule(
            scope=scope,
            modality=modality,
            site_id=site_id,
            years=terms.years,
            majority_age=terms.majority_age,
            years_after_majority=terms.years_after_majority,
            reason=reason.strip(),
            updated_by=actor.id,
            updated_at=uow.now,
        )
        uow.add(rule)
    else:
        rule.years, rule.majority_age = terms.years, terms.majority_age
        rule.years_after_majority = terms.years_after_majority
        rule.reason, rule.updated_by, rule.updated_at = reason.strip(), actor.id, uow.now
        rule.withdrawn_at = None
    uow.flush()
    return RuleChange(rule=rule, recomputed=refresh_expiries(uow, everything=True))


def withdraw_rule(uow: UnitOfWork, actor: Actor, *, rule_id: int, reason: str) -> RuleChange:
    """Withdraw a rule (its class falls back to the next most specific), then rework every
    study's expiry."""
    checks = Checks()
    checks.text(reason, "reason", max_length=500)
    checks.done()
    rule = uow.session.get(RetentionRule, rule_id, with_for_update=True)
    if rule is None or rule.withdrawn_at is not None:
        raise NotFound("retention rule", str(rule_id), field="rule_id")
    rule.withdrawn_at, rule.updated_at = uow.now, uow.now
    rule.reason, rule.updated_by = reason.strip(), actor.id
    uow.flush()
    return RuleChange(rule=rule, recomputed=refresh_expiries(uow, everything=True))


def rules(session: Session) -> list[RetentionRule]:
    """The policy in force, by class."""
    return list(
        session.scalars(
            sa.select(RetentionRule)
            .where(col(RetentionRule.withdrawn_at).is_(None))
            .order_by(col(RetentionRule.scope))
        )
    )


def refresh_expiries(uow: UnitOfWork, *, everything: bool = False) -> int:
    """Work out the expiry of the retained studies (all, or those changed since); how many.

    Read as plain rows and written back by one executemany UPDATE of the studies whose expiry,
    rule or working-out time changes, so a policy change over a large archive holds its
    transaction for as short a time as it can.
    """
    policy = [
        (RuleKey(modality=r.modality, site_id=r.site_id), (r.id, _terms(r)))
        for r in uow.session.scalars(
            sa.select(RetentionRule).where(col(RetentionRule.withdrawn_at).is_(None))
        )
    ]
    query = (
        sa.select(
            STUDIES.c.id,
            STUDIES.c.study_date,
            STUDIES.c.received_at,
            STUDIES.c.updated_at,
            STUDIES.c.expires_on,
            STUDIES.c.retention_rule_id,
            STUDIES.c.retention_computed_at,
            col(Patient.birth_date),
            col(Procedure.modality),
            col(Exam.site_id),
        )
        .join(Exam, col(Exam.id) == STUDIES.c.exam_id)
        .join(Patient, col(Patient.id) == col(Exam.patient_id))
        .join(Procedure, col(Procedure.id) == col(Exam.procedure_id))
        .where(STUDIES.c.state.in_(RETAINED))
    )
    if not everything:
        query = query.where(
            sa.or_(
                STUDIES.c.retention_computed_at.is_(None),
                STUDIES.c.retention_computed_at < STUDIES.c.updated_at,
            )
        )
    worked, changes = 0, []
    for row in uow.session.execute(query):
        chosen = choose(policy, modality=row.modality, site_id=row.site_id)
        studied = row.study_date or row.received_at.date()
        rule_id, expires_on = (
            (None, None)
            if chosen is None
            else (chosen[0], expiry(chosen[1], born=row.birth_date, studied=studied))
        )
        stale = row.retention_computed_at is None or row.retention_computed_at < row.updated_at
        if stale or (expires_on, rule_id) != (row.expires_on, row.retention_rule_id):
            changes.append(
                {
                    "pk": row.id,
                    "expires": expires_on,
                    "rule": rule_id,
                    "at": max(uow.now, row.updated_at),
                }
            )
        worked += 1
    if changes:
        uow.session.execute(_STAMP, changes)
    return worked


STUDIES = core_table(ArchivedStudy)
_STAMP = (
    sa.update(STUDIES)
    .where(STUDIES.c.id == sa.bindparam("pk"))
    .values(
        expires_on=sa.bindparam("expires"),
        retention_rule_id=sa.bindparam("rule"),
        retention_computed_at=sa.bindparam("at"),
    )
)


def _terms(rule: RetentionRule) -> RetentionTerms:
    return RetentionTerms(
        years=rule.years,
        majority_age=rule.majority_age,
        years_after_majority=rule.years_after_majority,
    )


# -- legal holds --------------------------------------------------------------------------


def place_hold(
    uow: UnitOfWork,
    actor: Actor,
    *,
    study_instance_uid: str | None,
    patient_mrn: str | None,
    reason: str,
) -> LegalHold:
    """Hold one study (by its Study Instance UID) or all a patient's studies from deletion."""
    checks = Checks()
    checks.text(reason, "reason", max_length=500)
    checks.require(
        (study_instance_uid is None) != (patient_mrn is None),
        "study_instance_uid",
        IssueCode.INVALID_VALUE,
        "name either a study (studyInstanceUid) or a patient (patientMrn), not both",
    )
    checks.done()
    patient_id = None
    if patient_mrn is not None:
        patient = uow.session.scalar(sa.select(Patient).where(col(Patient.mrn) == patient_mrn))
        if patient is None:
            raise NotFound("patient", patient_mrn, field="patient_mrn")
        patient_id = patient.id
        uow.name_patient(patient.id or 0, patient.mrn)
        held = (
            sa.select(col(ArchivedStudy.id))
            .join(Exam, col(Exam.id) == col(ArchivedStudy.exam_id))
            .where(col(Exam.patient_id) == patient_id)
        )
    else:
        assert study_instance_uid is not None
        known = uow.session.scalar(
            sa.select(col(ArchivedStudy.id)).where(
                col(ArchivedStudy.study_instance_uid) == study_instance_uid
            )
        )
        if known is None:
            raise NotFound("study", study_instance_uid, field="study_instance_uid")
        held = sa.select(col(ArchivedStudy.id)).where(
            col(ArchivedStudy.study_instance_uid) == study_instance_uid
        )
    # The studies' rows are locked as a purge's claim locks them: a purge claiming them now
    # either finishes its claim first (they are PURGING) or sees this hold.
    _lock(uow.session, held)
    hold = LegalHold(
        study_instance_uid=study_instance_uid,
        patient_id=patient_id,
        reason=reason.strip(),
        placed_by=actor.id,
        placed_at=uow.now,
    )
    uow.add(hold)
    uow.flush()
    return hold


def release_hold(uow: UnitOfWork, actor: Actor, *, hold_id: int, reason: str) -> LegalHold:
    """End an active legal hold, with who and why."""
    checks = Checks()
    checks.text(reason, "reason", max_length=500)
    checks.done()
    hold = uow.session.get(LegalHold, hold_id, with_for_update=True)
    if hold is None or hold.released_at is not None:
        raise NotFound("active legal hold", str(hold_id), field="hold_id")
    hold.released_by, hold.released_at, hold.release_reason = actor.id, uow.now, reason.strip()
    return hold


def holds(session: Session, *, active_only: bool = True) -> list[LegalHold]:
    """The legal holds, newest first."""
    query = sa.select(LegalHold).order_by(col(LegalHold.id).desc())
    if active_only:
        query = query.where(col(LegalHold.released_at).is_(None))
    return list(session.scalars(query))


def active_holds(session: Session, studies: list[ArchivedStudy]) -> dict[int, list[LegalHold]]:
    """The active holds on each of these studies (by study id); a study without is absent."""
    uids = {s.study_instance_uid for s in studies}
    exams = {s.exam_id for s in studies if s.exam_id is not None}
    patient_of: dict[int | None, int] = {
        exam: patient
        for exam, patient in session.execute(
            sa.select(col(Exam.id), col(Exam.patient_id)).where(col(Exam.id).in_(exams))
        )
    }
    found = session.scalars(
        sa.select(LegalHold).where(
            col(LegalHold.released_at).is_(None),
            sa.or_(
                col(LegalHold.study_instance_uid).in_(uids),
                col(LegalHold.patient_id).in_(set(patient_of.values())),
            ),
        )
    ).all()
    held: dict[int, list[LegalHold]] = {}
    for study in studies:
        patient = patient_of.get(study.exam_id) if study.exam_id is not None else None
        on = [
            h
            for h in found
            if h.study_instance_uid == study.study_instance_uid
            or (patient is not None and h.patient_id == patient)
        ]
        if on:
            held[study.id or 0] = on
    return held


def _lock(session: Session, ids: sa.Select[int | None]) -> None:
    session.execute(
        sa.select(col(ArchivedStudy.id))
        .where(col(ArchivedStudy.id).in_(ids.scalar_subquery()))
        .with_for_update()
    ).all()


__all__ = [
    "RETAINED",
    "RuleChange",
    "active_holds",
    "holds",
    "place_hold",
    "refresh_expiries",
    "release_hold",
    "rules",
    "set_rule",
    "withdraw_rule",
]
