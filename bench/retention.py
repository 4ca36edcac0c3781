"""Retention's database work over a large archive: the policy changed, expiries worked out
again, the studies past retention listed and claimed for deletion.

    python -m bench.retention [--studies 20000] [--database-url URL]

Bulk-loads a department with one stored study per exam (study dates spread over 25 years),
then times, each in its own transaction as the API runs it: `setRetentionRule` on the default
class (every study's expiry worked out again), the same with a modality rule, the hourly clock
job, the `expiredStudies` list (first 100) with 200 studies new since the last working-out, and
the claim of a purge (up to 500, no PACS call). Last line: {"studies", "set_rule_s",
"set_modality_rule_s", "clock_refresh_s", "expired_list_ms", "claim_500_s",
"studies_per_s", "backend"}.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlmodel import col

import domain.models as m
from application import purges, retention
from bench._data import create_schema, department, reset_postgres
from domain.db import Database, UnitOfWork
from domain.enums import Modality, Role
from domain.lifecycle import Actor
from domain.retention import RetentionTerms
from domain.types import utcnow

SUPERVISOR = Actor("sup.bench", Role.SUPERVISOR)
ADULT = RetentionTerms(years=8, majority_age=18, years_after_majority=7)
MAMMOGRAPHY = RetentionTerms(years=10, majority_age=18, years_after_majority=7)


def stored_studies(uow: UnitOfWork, *, start: int = 0, count: int | None = None) -> int:
    """One READY stored study per exam (from `start`), study dates over the last 25 years."""
    rng = random.Random(5 + start)
    exams = list(uow.session.scalars(sa.select(col(m.Exam.id)).order_by(col(m.Exam.id))))
    exams = exams[start : None if count is None else start + count]
    now = utcnow()
    rows: list[dict[str, Any]] = [
        {
            "pacs_id": f"bench-{exam_id}",
            "study_instance_uid": f"2.25.1.{exam_id}",
            "accession_number": f"B{exam_id:010d}",
            "exam_id": exam_id,
            "state": m.ArchivedStudyState.READY,
            "header": {},
            "problems": [],
            "series_count": 1,
            "image_count": 1,
            "dicomweb_url": "http://pacs/dicom-web",
            "received_at": now,
            "updated_at": now,
            "study_date": date(2001, 1, 1) + timedelta(days=rng.randrange(25 * 365)),
        }
        for exam_id in exams
    ]
    uow.session.execute(sa.insert(m.ArchivedStudy), rows)
    return len(rows)


async def timed(db: Database, work: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    result = await db.run(work)
    return time.perf_counter() - started, result


def rule(modality: Modality | None, terms: RetentionTerms) -> Any:
    def change(uow: UnitOfWork) -> int:
        return retention.set_rule(
            uow, SUPERVISOR, modality=modality, site_code=None, terms=terms, reason="bench"
        ).recomputed

    return change


async def run(url: str, studies: int) -> dict[str, Any]:
    db = Database(url)
    if db.url.get_backend_name() == "postgresql":
        await reset_postgres(db)
    else:
        create_schema(db)
    await department(db, studies)
    fresh = 200
    loaded = await db.run(lambda uow: stored_studies(uow, count=studies - fresh))
    set_rule_s, worked = await timed(db, rule(None, ADULT))
    assert worked == loaded
    set_modality_s, _ = await timed(db, rule(Modality.MG, MAMMOGRAPHY))
    clock_s, _ = await timed(db, lambda uow: retention.refresh_expiries(uow, everything=True))
    await db.run(lambda uow: stored_studies(uow, start=studies - fresh))
    list_s, listed = await timed(db, lambda uow: purges.expired(uow, first=100))
    assert len(listed) == 100
    claim_s, claims = await timed(
        db,
        lambda uow: purges.claim_for_purge(
            uow, SUPERVISOR, pacs_ids=None, reason="bench", first=500
        ),
    )
    assert len(claims) == 500
    await db.dispose()
    return {
        "studies": studies,
        "set_rule_s": round(set_rule_s, 3),
        "set_modality_rule_s": round(set_modality_s, 3),
        "clock_refresh_s": round(clock_s, 3),
        "expired_list_ms": round(list_s * 1000, 1),
        "claim_500_s": round(claim_s, 3),
        "studies_per_s": round(studies / set_rule_s, 1),
        "backend": db.url.get_backend_name(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--studies", type=int, default=20_000)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    url = args.database_url or f"sqlite:///{Path(tempfile.mkdtemp()) / 'retention.db'}"
    print(json.dumps(asyncio.run(run(url, args.studies))))


if __name__ == "__main__":
    main()
