"""Follow-up completion to its exact value on a hand-built history, on SQLite and PostgreSQL.

The period is the week of Monday 2 March 2026, [03-02 00:00, 03-09 00:00) UTC, as in
test_metrics. Each row's figures are worked out beside it; the expected values below them.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from domain.db import Database
from domain.enums import FollowUpStatus, Modality
from domain.models import FollowUpRecommendation
from tests import factories
from tests.conftest import Api, Clock
from tests.integration.test_metrics import History, at, figures

FEB_1, FEB_2 = datetime(2026, 2, 1, 9, tzinfo=UTC), datetime(2026, 2, 2, 9, tzinfo=UTC)
OPEN, C, X = FollowUpStatus.OPEN, FollowUpStatus.COMPLETED, FollowUpStatus.CANCELLED


async def follow_up_history(h: History) -> None:
    us_north = await h.exam(at(1, 8))  # USABD at NORTH (ultrasound)
    ct_main = await h.exam(at(1, 8), procedure="CTHEAD", site="MAIN")

    def row(
        exam_id: int,
        due_on: date,
        status: FollowUpStatus,
        *,
        modality: Modality | None,
        created_at: datetime = FEB_1,
        completed_at: datetime | None = None,
    ) -> FollowUpRecommendation:
        return FollowUpRecommendation(
            exam_id=exam_id,
            recommendation="follow-up",
            modality=modality,
            body_region=None if modality is None else "ABDOMEN",
            due_on=due_on,
            status=status,
            created_at=created_at,
            created_by="RAD03",
            completed_at=completed_at,
        )

    us, ct = Modality.US, Modality.CT
    rows = [
        # F1: due 03-03, done 03-03 09:00: 1 Feb 09:00 -> 3 Mar 09:00 = 30 days
        row(us_north, date(2026, 3, 3), C, modality=us, completed_at=at(3, 9)),
        # F2: due 03-05, done 03-08 21:00: 35 days and 12 hours = 35.5 days
        row(us_north, date(2026, 3, 5), C, modality=us, completed_at=at(8, 21)),
        # F3: due 03-06, open
        row(us_north, date(2026, 3, 6), OPEN, modality=us),
        # F4: CT at MAIN, due 03-08, open
        row(ct_main, date(2026, 3, 8), OPEN, modality=ct),
        # F5: CT at MAIN, due 03-04, done 03-04 09:00: 2 Feb -> 4 Mar = 30 days
        row(ct_main, date(2026, 3, 4), C, modality=ct, created_at=FEB_2, completed_at=at(4, 9)),
        # F6: due 03-09: after the period (its end is 03-09 00:00, exclusive)
        row(us_north, date(2026, 3, 9), OPEN, modality=us),
        # F7: due 03-01: before it
        row(us_north, date(2026, 3, 1), OPEN, modality=us),
        # F8: cancelled: counted nowhere
        row(us_north, date(2026, 3, 7), X, modality=us),
        # F9: recorded before modalities were kept: at NORTH, due 03-04, open
        row(us_north, date(2026, 3, 4), OPEN, modality=None),
    ]
    await h.db.run(lambda uow: uow.session.add_all(rows))


async def test_follow_up_completion_rate_days_and_overdue_by_site_and_modality(
    db: Database, clock: Clock
) -> None:
    await factories.reference(db)
    h = History(db, clock)
    await follow_up_history(h)
    now = at(12, 9)

    # Due in the period: F1-F5, F9 = 6. Completed F1, F2, F5 = 3; overdue (open, due before
    # 03-12) F3, F4, F9 = 3; rate 3 / (3 + 3) = 0.5. Days [30, 30, 35.5]: median 30, p90 by
    # nearest rank ceil(0.9 * 3) = 3rd = 35.5.
    everything = (await h.metrics(now=now)).follow_ups
    assert figures(everything) | {"days_to_completion": None} == {
        "due": 6,
        "completed": 3,
        "overdue": 3,
        "awaiting": 0,
        "completion_rate": 0.5,
        "days_to_completion": None,
    }
    assert figures(everything.days_to_completion) == {
        "count": 3,
        "median_minutes": 30.0,
        "p90_minutes": 35.5,
    }

    # NORTH: F1, F2, F3, F9. Completed 2, overdue 2: 0.5; days [30, 35.5]: median 32.75,
    # p90 = ceil(1.8) = 2nd = 35.5.
    north = (await h.metrics(now=now, site="NORTH")).follow_ups
    assert (north.due, north.completed, north.overdue, north.completion_rate) == (4, 2, 2, 0.5)
    assert figures(north.days_to_completion) == {
        "count": 2,
        "median_minutes": 32.75,
        "p90_minutes": 35.5,
    }

    # Ultrasound recommended: F1, F2, F3 (F9 has no modality). 2 / (2 + 1) = 0.6667.
    us = (await h.metrics(now=now, modality=Modality.US)).follow_ups
    assert (us.due, us.completed, us.overdue, us.completion_rate) == (3, 2, 1, 0.6667)

    # CT at MAIN: F4 open, F5 done in 30 days: 1 / 2.
    ct = (await h.metrics(now=now, site="MAIN", modality=Modality.CT)).follow_ups
    assert (ct.due, ct.completed, ct.overdue, ct.completion_rate) == (2, 1, 1, 0.5)
    assert ct.days_to_completion.median_minutes == 30.0

    # As of Friday 03-06 noon: F2 is not done yet (03-08) and overdue (due 03-05); F3 (due
    # today) and F4 await; F9 overdue; F1, F5 done. Rate 2 / (2 + 2) = 0.5, days [30, 30].
    midweek = (await h.metrics(now=at(6, 12))).follow_ups
    assert (midweek.due, midweek.completed, midweek.overdue, midweek.awaiting) == (6, 2, 2, 2)
    assert midweek.completion_rate == 0.5 and midweek.days_to_completion.median_minutes == 30.0


async def test_follow_up_metrics_over_graphql(api: Api, clock: Clock) -> None:
    await factories.reference(api.db)
    await follow_up_history(History(api.db, clock))
    clock.now = at(12, 9)
    data = await api.data("""{ metrics(from: "2026-03-02T00:00:00Z", to: "2026-03-09T00:00:00Z",
                                       siteCode: "NORTH") {
        followUps { due completed overdue awaiting completionRate
                    daysToCompletion { count median p90 } } } }""")
    assert data["metrics"]["followUps"] == {  # type: ignore[index]
        "due": 4,
        "completed": 2,
        "overdue": 2,
        "awaiting": 0,
        "completionRate": 0.5,
        "daysToCompletion": {"count": 2, "median": 32.75, "p90": 35.5},
    }
