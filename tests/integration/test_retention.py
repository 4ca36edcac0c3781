"""Retention in the database: each stored study's expiry from the policy (a child's, an adult's,
mammography, by site), worked out again when the policy or the study changes, and legal holds
(on a study, on a patient) keeping studies out of any purge."""

from __future__ import annotations

import asyncio
from datetime import date
from itertools import count

import pytest
import sqlalchemy as sa

from application import purges, retention
from domain.db import Database, UnitOfWork
from domain.enums import Modality, Role
from domain.errors import NotFound, ValidationFailed
from domain.lifecycle import Actor
from domain.models import ArchivedStudy, ArchivedStudyState, Patient, StudyPurge
from domain.retention import RetentionTerms
from tests.conftest import Clock
from tests.factories import order, reference

SUPERVISOR = Actor("sup.ortiz", Role.SUPERVISOR)
_pacs = count(1)


async def stored(
    db: Database, *, procedure: str, site: str, studied: date, born: date | None = None
) -> int:
    """An exam and its study as the follower records a ready one; the archived study's id."""
    exam = await order(db, procedure=procedure, site=site)

    def record(uow: UnitOfWork) -> int:
        if born is not None:
            patient = uow.session.get(Patient, exam.patient_id)
            assert patient is not None
            patient.birth_date = born
        n = next(_pacs)
        row = ArchivedStudy(
            pacs_id=f"pacs-{n}",
            study_instance_uid=f"1.2.3.{n}",
            accession_number=exam.accession_number,
            exam_id=exam.id,
            state=ArchivedStudyState.READY,
            header={},
            problems=[],
            series_count=1,
            image_count=1,
            dicomweb_url="http://pacs/dicom-web",
            received_at=uow.now,
            updated_at=uow.now,
            study_date=studied,
        )
        uow.add(row)
        uow.flush()
        return row.id or 0

    return await db.run(record)


async def expiry_of(db: Database, study_id: int) -> date | None:
    row = await db.read(lambda s: s.get(ArchivedStudy, study_id))
    assert row is not None
    return row.expires_on


async def set_rule(
    db: Database, modality: Modality | None, site: str | None, years: int, after: int = 7
) -> int:
    terms = RetentionTerms(years=years, majority_age=18, years_after_majority=after)
    change = await db.run(
        lambda uow: retention.set_rule(
            uow, SUPERVISOR, modality=modality, site_code=site, terms=terms, reason="policy"
        )
    )
    return change.recomputed


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)
async def test_each_study_takes_the_most_specific_rule_and_a_childs_runs_past_majority(
    db: Database,
) -> None:
    await reference(db)
    child = await stored(
        db, procedure="USABD", site="NORTH", studied=date(2017, 1, 20), born=date(2015, 3, 10)
    )
    assert await expiry_of(db, child) is None  # no policy yet: kept
    assert await set_rule(db, None, None, 8) == 1
    # Born 2015-03-10, scanned aged 1: until the 25th birthday, not 2025-01-20.
    assert await expiry_of(db, child) == date(2040, 3, 10)

    # The same patient, now an adult (birth date corrected), and a mammogram at MAIN.
    adult = await stored(
        db, procedure="USABD", site="MAIN", studied=date(2020, 5, 4), born=date(1970, 1, 1)
    )
    mammogram = await stored(db, procedure="MGSCREEN", site="MAIN", studied=date(2020, 5, 4))
    await db.run(lambda uow: retention.refresh_expiries(uow, everything=True))
    assert await expiry_of(db, adult) == date(2028, 5, 4)
    assert await expiry_of(db, child) == date(2025, 1, 20)  # reworked: an adult's 8 years
    assert await expiry_of(db, mammogram) == date(2028, 5, 4)

    # Mammography kept 10 years anywhere, NORTH 12 years for everything else.
    assert await set_rule(db, Modality.MG, None, 10) == 3
    await set_rule(db, None, "NORTH", 12)
    assert await expiry_of(db, mammogram) == date(2030, 5, 4)
    assert await expiry_of(db, adult) == date(2028, 5, 4)  # MAIN: the default
    assert await expiry_of(db, child) == date(2029, 1, 20)  # NORTH: 12 years

    # The mammography rule withdrawn: the mammogram falls back to the default.
    mammography = await db.read(
        lambda s: next(r for r in retention.rules(s) if r.modality == Modality.MG)
    )
    await db.run(
        lambda uow: retention.withdraw_rule(
            uow, SUPERVISOR, rule_id=mammography.id or 0, reason="superseded"
        )
    )
    assert await expiry_of(db, mammogram) == date(2028, 5, 4)
    with pytest.raises(NotFound):  # withdrawn already
        await db.run(
            lambda uow: retention.withdraw_rule(
                uow, SUPERVISOR, rule_id=mammography.id or 0, reason="again"
            )
        )

    # A rule naming an unknown site, or out of range, changes nothing.
    with pytest.raises(NotFound):
        await set_rule(db, None, "NOWHERE", 5)
    with pytest.raises(ValidationFailed):
        await set_rule(db, None, None, -1)
    assert await expiry_of(db, adult) == date(2028, 5, 4)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)
async def test_a_study_the_follower_changed_has_its_expiry_worked_out_again(
    db: Database, clock: Clock
) -> None:
    await reference(db)
    await set_rule(db, None, None, 5)
    study = await stored(db, procedure="USABD", site="NORTH", studied=date(2010, 1, 1))
    assert await expiry_of(db, study) is None  # stored after the policy: not worked out yet
    listed = await db.run(lambda uow: purges.expired(uow, first=10))
    assert [s.id for s in listed] == [study]  # the list works out what is new first

    clock.advance(minutes=1)

    def restudied(uow: UnitOfWork) -> None:
        row = uow.session.get(ArchivedStudy, study)
        assert row is not None
        row.study_date, row.updated_at = date(2024, 1, 1), uow.now

    await db.run(restudied)
    assert await db.run(lambda uow: retention.refresh_expiries(uow)) == 1
    assert await expiry_of(db, study) == date(2029, 1, 1)
    assert await db.run(lambda uow: retention.refresh_expiries(uow)) == 0


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)
async def test_a_patients_legal_hold_keeps_all_their_studies_out_of_a_purge(
    db: Database, clock: Clock
) -> None:
    await reference(db)
    await set_rule(db, None, None, 1)
    first = await stored(db, procedure="USABD", site="NORTH", studied=date(2010, 1, 1))
    second = await stored(db, procedure="USABD", site="NORTH", studied=date(2011, 1, 1))
    hold = await db.run(
        lambda uow: retention.place_hold(
            uow, SUPERVISOR, study_instance_uid=None, patient_mrn="MRN000001", reason="subpoena"
        )
    )
    claim = await db.run(
        lambda uow: purges.claim_for_purge(
            uow, SUPERVISOR, pacs_ids=None, reason="review", first=10
        )
    )
    assert claim == []
    with pytest.raises(ValidationFailed) as refused:
        await db.run(
            lambda uow: purges.claim_for_purge(
                uow, SUPERVISOR, pacs_ids=["pacs-x", "nope"], reason="review", first=10
            )
        )
    assert [i.code for i in refused.value.issues] == ["NOT_FOUND", "NOT_FOUND"]
    # Neither a study and a patient at once, nor neither.
    with pytest.raises(ValidationFailed):
        await db.run(
            lambda uow: retention.place_hold(
                uow, SUPERVISOR, study_instance_uid="1.2", patient_mrn="MRN000001", reason="x"
            )
        )

    await db.run(
        lambda uow: retention.release_hold(uow, SUPERVISOR, hold_id=hold.id or 0, reason="done")
    )
    with pytest.raises(NotFound):  # released already
        await db.run(
            lambda uow: retention.release_hold(uow, SUPERVISOR, hold_id=hold.id or 0, reason="x")
        )
    claims = await db.run(
        lambda uow: purges.claim_for_purge(
            uow, SUPERVISOR, pacs_ids=None, reason="review", first=10
        )
    )
    assert sorted(c.archived_study_id for c in claims) == [first, second]
    states = await db.read(
        lambda s: set(s.scalars(sa.select(ArchivedStudy.state)))  # type: ignore[call-overload]
    )
    assert states == {ArchivedStudyState.PURGING}
    # The PACS refused one: it goes back to what it was, the failure recorded.
    outcomes = {claims[0].id or 0: None, claims[1].id or 0: "the PACS answered 500"}
    await db.run(lambda uow: purges.record_purge(uow, outcomes=outcomes))
    rows = await db.read(lambda s: {r.id: r.state for r in s.scalars(sa.select(ArchivedStudy))})
    assert sorted(rows.values()) == [ArchivedStudyState.PURGED, ArchivedStudyState.READY]
    records = await db.read(lambda s: list(s.scalars(sa.select(StudyPurge))))
    assert sorted((p.outcome, p.error) for p in records) == [
        ("DELETED", None),
        ("FAILED", "the PACS answered 500"),
    ]


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)
async def test_two_purges_at_once_claim_each_study_once(db: Database) -> None:
    await reference(db)
    await set_rule(db, None, None, 1)
    studies = [
        await stored(db, procedure="USABD", site="NORTH", studied=date(2010, 1, d))
        for d in range(1, 7)
    ]

    await db.run(lambda uow: retention.refresh_expiries(uow))  # the purges then only read

    def purge(uow: UnitOfWork) -> list[int]:
        claims = purges.claim_for_purge(uow, SUPERVISOR, pacs_ids=None, reason="review", first=100)
        return [c.archived_study_id for c in claims]

    first, second = await asyncio.gather(db.run(purge), db.run(purge))
    assert sorted(first + second) == sorted(studies)  # each once, by one purge or the other


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)
async def test_a_purge_that_stopped_midway_gives_its_studies_back_to_the_next(
    db: Database, clock: Clock
) -> None:
    await reference(db)
    await set_rule(db, None, None, 1)
    study = await stored(db, procedure="USABD", site="NORTH", studied=date(2010, 1, 1))
    (claim,) = await db.run(
        lambda uow: purges.claim_for_purge(
            uow, SUPERVISOR, pacs_ids=None, reason="review", first=10
        )
    )
    # The process stops here: nothing recorded. Another purge soon after leaves it alone.
    clock.advance(minutes=30)
    again = await db.run(
        lambda uow: purges.claim_for_purge(
            uow, SUPERVISOR, pacs_ids=None, reason="review", first=10
        )
    )
    assert again == []
    # Hours later it is given back and claimed afresh.
    clock.advance(hours=2)
    (fresh,) = await db.run(
        lambda uow: purges.claim_for_purge(uow, SUPERVISOR, pacs_ids=None, reason="again", first=10)
    )
    assert fresh.archived_study_id == study and fresh.id != claim.id
    old = await db.read(lambda s: s.get(StudyPurge, claim.id))
    assert old is not None and (old.outcome, old.previous_state) == (
        "FAILED",
        ArchivedStudyState.READY,
    )
    assert fresh.previous_state == ArchivedStudyState.READY
