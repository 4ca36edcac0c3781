"""Retention against a real Orthanc: studies stored with dcmtk's storescu, their expiry worked
out from the policy, a legal hold blocking deletion, and an explicit purge deleting them from
Orthanc, recorded and audited."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from pydicom.uid import generate_uid

from api.app import create_app
from application.settings import Settings
from domain.db import Database
from domain.enums import ExamStatus
from domain.models import (
    ArchivedStudy,
    ArchivedStudyState,
    AuditEvent,
    PacsFollower,
    Patient,
    PurgeOutcome,
    StudyPurge,
)
from interfaces.dicom.pacs import FEED
from tests.conftest import Api, on_loopback
from tests.factories import drive, order, reference
from tests.interfaces.test_pacs import OrthancServer, fresh_root, send
from tests.interfaces.test_pacs import orthanc as orthanc  # the fixture, by name

SUPERVISING = ("sup.ortiz", "supervisor")

EXPIRED = """{ expiredStudies { pacsId studyInstanceUid accessionNumber studyDate expiresOn
  holds { reason } } }"""
SET_RULE = """
mutation($input: SetRetentionRuleInput!) {
  setRetentionRule(input: $input) {
    __typename
    ... on RetentionRuleSet { recomputed rule { id modality siteCode years } }
    ... on ValidationFailed { errors { field code } }
  }
}"""
HOLD = """
mutation($input: PlaceLegalHoldInput!) {
  placeLegalHold(input: $input) {
    __typename
    ... on LegalHold { id studyInstanceUid patientMrn placedBy }
    ... on ValidationFailed { errors { field code } }
    ... on NotFound { entity }
  }
}"""
RELEASE = """
mutation($input: ReleaseLegalHoldInput!) {
  releaseLegalHold(input: $input) {
    __typename
    ... on LegalHold { releasedBy releaseReason }
  }
}"""
WITHDRAW = """
mutation($input: WithdrawRetentionRuleInput!) {
  withdrawRetentionRule(input: $input) {
    __typename
    ... on RetentionRuleSet { recomputed }
  }
}"""
RULES = "{ retentionRules { modality siteCode years reason updatedBy } }"
PURGE = """
mutation($input: PurgeExpiredStudiesInput!) {
  purgeExpiredStudies(input: $input) {
    __typename
    ... on StudiesPurged { studies { pacsId accessionNumber expiresOn outcome purgedBy } }
    ... on ValidationFailed { errors { field code message } }
  }
}"""


@dataclass
class Department:
    api: Api
    http: httpx.AsyncClient
    orthanc: OrthancServer
    folder: Path
    db: Database

    async def data(self, query: str, variables: dict[str, Any] | None = None) -> Any:
        answer = await self.api.graphql(query, variables, actor=SUPERVISING)
        assert "errors" not in answer, answer
        return answer["data"]

    async def stored(self, *, study_date: str) -> tuple[str, str]:
        """An acquired exam and its study stored with storescu, ready: (pacs id, accession)."""
        exam = await drive(self.db, await order(self.db), ExamStatus.ACQUIRED)
        patient = await self.db.read(
            lambda s: s.scalar(sa.select(Patient).where(Patient.mrn == "MRN000001"))
        )
        assert patient is not None
        await send(
            self.orthanc,
            self.folder,
            uid=generate_uid(),
            AccessionNumber=exam.accession_number,
            PatientID="MRN000001",
            PatientName=f"{patient.family_name}^{patient.given_name}",
            PatientBirthDate=patient.birth_date.strftime("%Y%m%d"),
            Modality="US",
            BodyPartExamined="ABDOMEN",
            StudyDate=study_date,
        )
        deadline = time.monotonic() + 60
        while True:
            row = await self.db.read(
                lambda s: s.scalar(
                    sa.select(ArchivedStudy).where(
                        ArchivedStudy.accession_number == exam.accession_number
                    )
                )
            )
            if row is not None and row.state == ArchivedStudyState.READY:
                return row.pacs_id, exam.accession_number
            assert time.monotonic() < deadline, "the study was not made ready"
            await asyncio.sleep(0.2)


@asynccontextmanager
async def department(
    db: Database, orthanc: OrthancServer, folder: Path
) -> AsyncIterator[Department]:
    """radflow serving GraphQL over HTTP and following the Orthanc from now on."""
    await reference(db)
    async with httpx.AsyncClient(base_url=orthanc.url, timeout=30) as client:
        since = (await client.get("/changes", params={"last": ""})).json()["Last"]
    await db.run(lambda uow: uow.add(PacsFollower(name=FEED, last_change=int(since))))
    settings = Settings(
        database_url=str(db.url),
        RADFLOW_BALANCER=False,
        RADFLOW_ORTHANC_URL=orthanc.url,
        RADFLOW_ORTHANC_POLL=0.2,
        RADFLOW_DICOM_UID_ROOT=fresh_root(),
    )
    async with (
        on_loopback(create_app(settings, db=db)) as port,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as http,
    ):
        yield Department(Api(http, db), http, orthanc, folder, db)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)
async def test_expired_studies_are_deleted_from_orthanc_only_by_a_purge_and_never_when_held(
    db: Database, orthanc: OrthancServer, tmp_path: Path
) -> None:
    async with department(db, orthanc, tmp_path) as dept:
        # The test clock says 2 March 2026. Two adult studies of 2004 and one of 2020.
        old, old_accession = await dept.stored(study_date="20040119")
        held, held_accession = await dept.stored(study_date="20040301")
        recent, _ = await dept.stored(study_date="20200601")

        # No rule yet: nothing expires, everything is kept.
        assert (await dept.data(EXPIRED))["expiredStudies"] == []

        # Ultrasound kept 10 years: the 2004 studies expired in 2014, the 2020 one is kept.
        rule = {"modality": "US", "years": 10, "reason": "records policy 2026/3"}
        done = await dept.data(SET_RULE, {"input": rule})
        assert done["setRetentionRule"]["__typename"] == "RetentionRuleSet"
        assert done["setRetentionRule"]["recomputed"] == 3
        listed = (await dept.data(EXPIRED))["expiredStudies"]
        assert [(s["pacsId"], s["expiresOn"]) for s in listed] == [
            (old, "2014-01-19"),
            (held, "2014-03-01"),
        ]

        # The policy changes (kept 30 years): expiries are worked out again, nothing expired.
        await dept.data(SET_RULE, {"input": {**rule, "years": 30}})
        assert (await dept.data(EXPIRED))["expiredStudies"] == []
        # Withdrawn, no rule is left: kept; set again, it is back.
        rule_id = done["setRetentionRule"]["rule"]["id"]
        withdrawn = {"input": {"ruleId": rule_id, "reason": "superseded"}}
        assert (await dept.data(WITHDRAW, withdrawn))["withdrawRetentionRule"] == {
            "__typename": "RetentionRuleSet",
            "recomputed": 3,
        }
        assert (await dept.data(RULES))["retentionRules"] == []
        assert (await dept.data(EXPIRED))["expiredStudies"] == []
        await dept.data(SET_RULE, {"input": rule})
        assert (await dept.data(RULES))["retentionRules"] == [
            {
                "modality": "US",
                "siteCode": None,
                "years": 10,
                "reason": "records policy 2026/3",
                "updatedBy": "sup.ortiz",
            }
        ]

        # A legal hold on one study: listed with its hold, refused by name, skipped by a purge.
        uid = next(s["studyInstanceUid"] for s in listed if s["pacsId"] == held)
        placed = (
            await dept.data(HOLD, {"input": {"studyInstanceUid": uid, "reason": "litigation 17"}})
        )["placeLegalHold"]
        assert placed["__typename"] == "LegalHold" and placed["placedBy"] == "sup.ortiz"
        listed = (await dept.data(EXPIRED))["expiredStudies"]
        assert [s["holds"] for s in listed] == [[], [{"reason": "litigation 17"}]]
        named = {"input": {"reason": "expired", "pacsIds": [held]}}
        refused = (await dept.data(PURGE, named))["purgeExpiredStudies"]
        assert refused["__typename"] == "ValidationFailed"
        assert [(e["field"], e["code"]) for e in refused["errors"]] == [
            ("input.pacsIds.0", "LEGAL_HOLD")
        ]
        # Naming a study still within retention is refused too, and nothing is deleted.
        both = {"input": {"reason": "expired", "pacsIds": [old, recent]}}
        refused = (await dept.data(PURGE, both))["purgeExpiredStudies"]
        assert [(e["field"], e["code"]) for e in refused["errors"]] == [
            ("input.pacsIds.1", "NOT_EXPIRED")
        ]
        assert (await dept.http.get(f"{orthanc.url}/studies/{old}")).status_code == 200

        # A technologist may not purge (nor list).
        denied = await dept.api.graphql(
            PURGE, {"input": {"reason": "x"}}, actor=("tech.lee", "technologist")
        )
        assert denied["errors"][0]["extensions"]["code"] == "FORBIDDEN"  # type: ignore[index]

        # The purge: the expired, unheld study is deleted from Orthanc; the held one stays.
        purged = (await dept.data(PURGE, {"input": {"reason": "annual retention review"}}))[
            "purgeExpiredStudies"
        ]
        assert purged["studies"] == [
            {
                "pacsId": old,
                "accessionNumber": old_accession,
                "expiresOn": "2014-01-19",
                "outcome": "DELETED",
                "purgedBy": "sup.ortiz",
            }
        ]
        assert (await dept.http.get(f"{orthanc.url}/studies/{old}")).status_code == 404
        assert (await dept.http.get(f"{orthanc.url}/studies/{held}")).status_code == 200
        assert (await dept.http.get(f"{orthanc.url}/studies/{recent}")).status_code == 200
        listed = (await dept.data(EXPIRED))["expiredStudies"]
        assert [s["pacsId"] for s in listed] == [held]

        # The hold released, the study can go, by name.
        hold_id = placed["id"]
        release = {"input": {"holdId": hold_id, "reason": "case settled"}}
        released = (await dept.data(RELEASE, release))["releaseLegalHold"]
        assert released == {
            "__typename": "LegalHold",
            "releasedBy": "sup.ortiz",
            "releaseReason": "case settled",
        }
        purged = (await dept.data(PURGE, named))["purgeExpiredStudies"]
        assert [(s["accessionNumber"], s["outcome"]) for s in purged["studies"]] == [
            (held_accession, "DELETED")
        ]
        assert (await dept.http.get(f"{orthanc.url}/studies/{held}")).status_code == 404

    records = await db.read(
        lambda s: list(s.scalars(sa.select(StudyPurge).order_by(StudyPurge.id)))  # type: ignore[arg-type]
    )
    assert [(r.pacs_id, r.outcome, r.reason) for r in records] == [
        (old, PurgeOutcome.DELETED, "annual retention review"),
        (held, PurgeOutcome.DELETED, "expired"),
    ]
    states = await db.read(
        lambda s: {r.pacs_id: r.state for r in s.scalars(sa.select(ArchivedStudy))}
    )
    assert states == {
        old: ArchivedStudyState.PURGED,
        held: ArchivedStudyState.PURGED,
        recent: ArchivedStudyState.READY,
    }
    audited = await db.read(
        lambda s: list(
            s.execute(
                sa.select(AuditEvent.operation, AuditEvent.action, AuditEvent.outcome).where(
                    AuditEvent.user_id == "sup.ortiz",
                    AuditEvent.operation.contains("purgeExpiredStudies"),  # type: ignore[attr-defined]
                )
            )
        )
    )
    outcomes = sorted(str(o) for _, _, o in audited)
    assert outcomes == ["FAILURE", "FAILURE", "SUCCESS", "SUCCESS"], audited
    assert {str(a) for _, a, _ in audited} == {"D"}
