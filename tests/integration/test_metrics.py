"""Each metric to its exact value on a hand-built history, on SQLite and PostgreSQL.

The histories are written row by row with chosen times (orders go through the service, so the
exam is real; what follows is inserted as it would have been recorded). Every expected figure
is worked out by hand in the comment beside it. The period is the week of Monday 2 March 2026:
[03-02 00:00, 03-09 00:00) UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from domain.db import Database
from domain.enums import (
    AppointmentStatus,
    CriticalLevel,
    ExamStatus,
    Modality,
    NotificationChannel,
    PatientClass,
    Priority,
    Role,
)
from domain.metrics import DepartmentMetrics, department_metrics, scope_for
from domain.models import Appointment, ExamStatusChange, ModalityResource, ResultCommunication
from tests import factories
from tests.conftest import Api, Clock

START, END = datetime(2026, 3, 2, tzinfo=UTC), datetime(2026, 3, 9, tzinfo=UTC)
DAY = timedelta(hours=24)
S = ExamStatus


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """A time in March 2026, UTC."""
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC)


class History:
    """Writes a department's history with chosen times."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self.db, self.clock = db, clock

    async def exam(
        self,
        ordered: datetime,
        *,
        procedure: str = "USABD",
        site: str = "NORTH",
        priority: Priority = Priority.ROUTINE,
        patient_class: PatientClass = PatientClass.OUTPATIENT,
    ) -> int:
        """An exam ordered at `ordered` (its ORDERED entry is at that time)."""
        self.clock.now = ordered
        exam = await factories.order(
            self.db, procedure=procedure, site=site, priority=priority, patient_class=patient_class
        )
        assert exam.id is not None
        return exam.id

    async def entered(self, exam_id: int, *steps: tuple[ExamStatus, datetime]) -> None:
        """History entries: the exam entered each status at its time."""
        await self.db.run(
            lambda uow: uow.session.add_all(
                ExamStatusChange(
                    exam_id=exam_id,
                    to_status=status,
                    event="Test",
                    actor="test",
                    role=Role.ADMIN,
                    at=when,
                )
                for status, when in steps
            )
        )

    async def appointment(
        self,
        exam_id: int,
        starts_at: datetime,
        status: AppointmentStatus,
        *,
        cancelled_at: datetime | None = None,
        resource: str = "US1",
    ) -> None:
        def add(session: Session) -> None:
            resource_id = session.scalar(
                sa.select(ModalityResource.id).where(ModalityResource.code == resource)
            )
            session.add(
                Appointment(
                    exam_id=exam_id,
                    resource_id=resource_id,
                    starts_at=starts_at,
                    ends_at=starts_at + timedelta(minutes=30),
                    status=status,
                    booked_at=at(1, 8),
                    booked_by="frontdesk",
                    cancelled_at=cancelled_at,
                )
            )

        await self.db.run(lambda uow: add(uow.session))

    async def communicated(
        self,
        exam_id: int,
        level: CriticalLevel,
        notified_at: datetime,
        acknowledged_at: datetime | None = None,
    ) -> None:
        exam = await factories.current(self.db, exam_id)
        await self.db.run(
            lambda uow: uow.session.add(
                ResultCommunication(
                    exam_id=exam_id,
                    referrer_id=exam.referrer_id,
                    critical_level=level,
                    channel=NotificationChannel.PHONE,
                    notified_at=notified_at,
                    notified_by="RAD03",
                    acknowledged_at=acknowledged_at,
                    acknowledged_by="REF01" if acknowledged_at else None,
                )
            )
        )

    async def metrics(
        self, *, now: datetime, site: str | None = None, modality: Modality | None = None
    ) -> DepartmentMetrics:
        def compute(session: Session) -> DepartmentMetrics:
            scope = scope_for(session, start=START, end=END, site_code=site, modality=modality)
            return department_metrics(
                session, scope, now=now, late_cancellation_window=timedelta(hours=24)
            )

        return await self.db.read(compute)


def figures(value: Any) -> dict[str, Any]:
    """A dataclass's fields, for comparison with a literal."""
    return dict(value.__dict__)


async def test_no_shows_count_booked_appointments_only_and_late_cancellations_their_own(
    db: Database, clock: Clock
) -> None:
    await factories.reference(db)
    h = History(db, clock)
    A = AppointmentStatus

    async def booked(starts_at: datetime, status: AppointmentStatus, **kw: Any) -> int:
        exam = await h.exam(at(1, 12), **{k: kw.pop(k) for k in ("procedure", "site") if k in kw})
        await h.appointment(exam, starts_at, status, **kw)
        return exam

    # Ultrasound at NORTH.
    await booked(at(3, 9), A.ARRIVED)  # A1
    await booked(at(3, 10), A.ARRIVED)  # A2
    await booked(at(3, 11), A.NO_SHOW)  # A3
    await booked(at(4, 9), A.CANCELLED, cancelled_at=at(3, 20))  # A4: 13 h before: late
    await booked(at(4, 10), A.CANCELLED, cancelled_at=at(2, 8))  # A5: 50 h before: not late
    await booked(at(4, 11), A.CANCELLED, cancelled_at=at(3, 11))  # A6: exactly 24 h: not late
    moved = await booked(at(5, 9), A.RESCHEDULED, cancelled_at=at(5, 8))  # A7: moved, not counted
    await h.appointment(moved, at(6, 9), A.ARRIVED)  # A8: where A7 went
    await booked(at(5, 12), A.BOOKED)  # A9: no outcome recorded yet
    await booked(at(10, 9), A.NO_SHOW)  # A10: after the period
    await booked(at(1, 9), A.NO_SHOW)  # A11: before the period
    walk_in = await h.exam(at(3, 7))  # checked in without an appointment: not counted
    await h.entered(walk_in, (S.CHECKED_IN, at(3, 8)))
    # CT at MAIN.
    await booked(at(3, 9), A.NO_SHOW, procedure="CTHEAD", site="MAIN", resource="CT1")  # B1
    await booked(
        at(3, 10),
        A.CANCELLED,
        cancelled_at=at(3, 9, 30),
        procedure="CTHEAD",
        site="MAIN",
        resource="CT1",
    )  # B2: 30 min before: late

    everything = (await h.metrics(now=END)).attendance
    # Appointments: A1-A6, A8, A9, B1, B2 = 10 (A7 moved; A10, A11 outside).
    # No-shows A3, B1 = 2; arrivals A1, A2, A8 = 3 (the walk-in is not one): 2 / (2 + 3) = 0.4.
    # Cancellations A4, A5, A6, B2 = 4, late A4, B2 = 2: 2 / 10 = 0.2.
    assert figures(everything) == {
        "appointments": 10,
        "arrivals": 3,
        "no_shows": 2,
        "no_show_rate": 0.4,
        "cancellations": 4,
        "late_cancellations": 2,
        "late_cancellation_rate": 0.2,
        "late_cancellation_window": DAY,
    }
    north = (await h.metrics(now=END, site="NORTH")).attendance
    # A1-A6, A8, A9 = 8; no-shows A3 = 1, arrivals 3: 1 / 4 = 0.25; late A4: 1 / 8 = 0.125.
    assert (
        north.appointments,
        north.no_shows,
        north.arrivals,
        north.no_show_rate,
        north.cancellations,
        north.late_cancellations,
        north.late_cancellation_rate,
    ) == (8, 1, 3, 0.25, 3, 1, 0.125)
    ct = (await h.metrics(now=END, modality=Modality.CT)).attendance
    # B1, B2 = 2; no-show B1, no arrival: 1 / 1 = 1.0; late B2: 1 / 2 = 0.5.
    assert (ct.appointments, ct.no_show_rate, ct.late_cancellations, ct.late_cancellation_rate) == (
        2,
        1.0,
        1,
        0.5,
    )
    nothing = (await h.metrics(now=END, site="MAIN", modality=Modality.US)).attendance
    assert (nothing.appointments, nothing.no_show_rate, nothing.late_cancellation_rate) == (
        0,
        None,
        None,
    )


async def test_critical_result_timeliness_counts_the_unacknowledged_as_misses_per_category(
    db: Database, clock: Clock
) -> None:
    await factories.reference(db)
    h = History(db, clock)
    L = CriticalLevel

    async def result(
        level: CriticalLevel, notified: datetime, acknowledged: datetime | None, **where: str
    ) -> None:
        await h.communicated(await h.exam(at(1, 6), **where), level, notified, acknowledged)

    # CRITICAL, window 60 min.
    await result(L.CRITICAL, at(3, 10), at(3, 10, 20))  # C1: 20 min, in time
    await result(L.CRITICAL, at(3, 11), at(3, 12))  # C2: 60 min, the window's edge: in time
    await result(L.CRITICAL, at(3, 12), at(3, 13, 30))  # C3: 90 min, late
    await result(L.CRITICAL, at(3, 13), None)  # C4: never: a miss
    await result(L.CRITICAL, at(4, 9), at(4, 9, 10), procedure="CTHEAD", site="MAIN")  # C5: 10
    await result(L.CRITICAL, at(1, 10), None)  # before the period: not counted
    # URGENT, window 6 h.
    await result(L.URGENT, at(5, 8), at(5, 12))  # U1: 240 min, in time
    await result(L.URGENT, at(5, 9), at(5, 17))  # U2: 480 min, late
    await result(L.URGENT, at(8, 23), None)  # U3: due 03-09 05:00, after `now`: awaiting
    # UNEXPECTED, window 3 days.
    await result(L.UNEXPECTED, at(2, 12), at(4, 12))  # X1: 2,880 min, in time
    await result(L.UNEXPECTED, at(6, 12), None)  # X2: due 03-09 12:00: awaiting
    await result(L.NONE, at(3, 9), None)  # a normal result: no category

    now = at(9, 2)
    m = await h.metrics(now=now)
    critical, urgent, unexpected = m.critical_results
    # CRITICAL: 5 communicated; in time C1, C2, C5 = 3; late C3; missed C4: 3 / 5 = 0.6.
    # Minutes [10, 20, 60, 90]: median (20 + 60) / 2 = 40; p90 rank ceil(0.9 * 4) = 4: 90.
    assert (
        critical.level,
        critical.window,
        critical.communicated,
        critical.acknowledged_in_time,
        critical.acknowledged_late,
        critical.unacknowledged,
        critical.awaiting,
        critical.in_time_rate,
    ) == (L.CRITICAL, timedelta(minutes=60), 5, 3, 1, 1, 0, 0.6)
    assert figures(critical.minutes_to_acknowledge) == {
        "count": 4,
        "median_minutes": 40.0,
        "p90_minutes": 90.0,
    }
    # URGENT: 3; in time U1, late U2, U3 awaiting: 1 / (3 - 1) = 0.5.
    # Minutes [240, 480]: median 360; p90 rank ceil(1.8) = 2: 480.
    assert (
        urgent.communicated,
        urgent.acknowledged_in_time,
        urgent.acknowledged_late,
        urgent.unacknowledged,
        urgent.awaiting,
        urgent.in_time_rate,
    ) == (3, 1, 1, 0, 1, 0.5)
    assert figures(urgent.minutes_to_acknowledge) == {
        "count": 2,
        "median_minutes": 360.0,
        "p90_minutes": 480.0,
    }
    # UNEXPECTED: 2; in time X1, X2 awaiting: 1 / (2 - 1) = 1.0; minutes [2880].
    assert (
        unexpected.communicated,
        unexpected.acknowledged_in_time,
        unexpected.awaiting,
        unexpected.in_time_rate,
        unexpected.minutes_to_acknowledge.median_minutes,
    ) == (2, 1, 1, 1.0, 2880.0)
    # The older summary, critical and urgent acknowledged together: [10, 20, 60, 90, 240, 480]:
    # median (60 + 90) / 2 = 75; p90 rank ceil(5.4) = 6: 480.
    assert figures(m.critical_ack_minutes) == {
        "count": 6,
        "median_minutes": 75.0,
        "p90_minutes": 480.0,
    }

    # Later, U3's window (to 03-09 05:00) is over: a miss, 1 / 3 = 0.3333.
    later = await h.metrics(now=at(9, 5))
    assert (
        later.critical_results[1].unacknowledged,
        later.critical_results[1].awaiting,
        later.critical_results[1].in_time_rate,
    ) == (1, 0, 0.3333)

    ct = await h.metrics(now=now, modality=Modality.CT)
    # Only C5: 1 of 1 in time, 10 minutes; the other categories are empty.
    assert [
        (c.communicated, c.in_time_rate, c.minutes_to_acknowledge.median_minutes)
        for c in ct.critical_results
    ] == [(1, 1.0, 10.0), (0, None, None), (0, None, None)]
    north = await h.metrics(now=now, site="NORTH")
    # Without C5: in time C1, C2 of C1-C4: 2 / 4 = 0.5; minutes [20, 60, 90]: median 60.
    assert (
        north.critical_results[0].in_time_rate,
        north.critical_results[0].minutes_to_acknowledge.median_minutes,
    ) == (0.5, 60.0)


async def turnaround_history(h: History) -> None:
    """Exams through the stages at chosen times (the catalogue's targets from study available
    to final report: ROUTINE outpatient 4,320 min, ROUTINE inpatient 1,440, STAT ED 30,
    URGENT inpatient 240)."""
    t0 = at(2, 0)
    routine = {"priority": Priority.ROUTINE, "patient_class": PatientClass.OUTPATIENT}
    r1 = await h.exam(t0, **routine)
    await h.entered(
        r1,
        (S.SCHEDULED, at(2, 0, 30)),
        (S.CHECKED_IN, at(3, 9)),
        (S.ACQUIRED, at(3, 9, 40)),
        (S.READY_FOR_READ, at(3, 10)),
        (S.FINAL, at(3, 14)),
        (S.COMMUNICATED, at(3, 14, 30)),
    )
    r2 = await h.exam(t0, **routine)
    await h.entered(r2, (S.READY_FOR_READ, at(4, 10)), (S.FINAL, at(7, 10)))  # = the target
    r3 = await h.exam(t0, **routine)
    await h.entered(r3, (S.READY_FOR_READ, at(4, 10)), (S.FINAL, at(7, 10, 1)))  # 1 min over
    r4 = await h.exam(
        t0,
        procedure="CTHEAD",
        site="MAIN",
        priority=Priority.ROUTINE,
        patient_class=PatientClass.INPATIENT,
    )
    await h.entered(r4, (S.READY_FOR_READ, at(5, 8)), (S.FINAL, at(6, 9)))
    r5 = await h.exam(at(1, 0), **routine)  # final before the period
    await h.entered(r5, (S.READY_FOR_READ, at(1, 10)), (S.FINAL, at(1, 11)))
    r6 = await h.exam(t0, **routine)  # final after the period
    await h.entered(r6, (S.READY_FOR_READ, at(8, 20)), (S.FINAL, at(9, 1)))
    stat = {
        "procedure": "CTHEAD",
        "site": "MAIN",
        "priority": Priority.STAT,
        "patient_class": PatientClass.ED,
    }
    s1 = await h.exam(t0, **stat)
    await h.entered(
        s1,
        (S.READY_FOR_READ, at(3, 8)),
        (S.IN_INTERPRETATION, at(3, 8, 5)),
        (S.FINAL, at(3, 8, 25)),
    )
    s2 = await h.exam(t0, **stat)
    await h.entered(
        s2,
        (S.READY_FOR_READ, at(3, 9)),
        (S.IN_INTERPRETATION, at(3, 9, 10)),
        (S.FINAL, at(3, 9, 45)),
    )
    s3 = await h.exam(t0, **stat)  # opened, handed back, opened again: first entries count
    await h.entered(
        s3,
        (S.READY_FOR_READ, at(3, 10)),
        (S.IN_INTERPRETATION, at(3, 10, 10)),
        (S.READY_FOR_READ, at(3, 10, 20)),
        (S.IN_INTERPRETATION, at(3, 10, 30)),
        (S.FINAL, at(3, 10, 50)),
    )
    u1 = await h.exam(at(2, 8), priority=Priority.URGENT, patient_class=PatientClass.INPATIENT)
    await h.entered(
        u1, (S.SCHEDULED, at(2, 8, 20)), (S.READY_FOR_READ, at(2, 12)), (S.FINAL, at(2, 15))
    )


def rows(m: DepartmentMetrics) -> list[tuple[Any, ...]]:
    return [
        (
            t.stage.value,
            t.priority.value,
            t.minutes.count,
            t.minutes.median_minutes,
            t.minutes.p90_minutes,
            t.target_breaches,
            t.target_breach_rate,
        )
        for t in m.turnaround
    ]


async def test_turnaround_per_stage_and_priority_with_median_p90_and_target_breaches(
    db: Database, clock: Clock
) -> None:
    await factories.reference(db)
    h = History(db, clock)
    await turnaround_history(h)
    assert rows(await h.metrics(now=END)) == [
        # R1 ordered 00:00, scheduled 00:30: 30; U1 08:00 to 08:20: 20.
        ("ORDER_TO_SCHEDULED", "URGENT", 1, 20.0, 20.0, None, None),
        ("ORDER_TO_SCHEDULED", "ROUTINE", 1, 30.0, 30.0, None, None),
        ("CHECK_IN_TO_ACQUIRED", "ROUTINE", 1, 40.0, 40.0, None, None),  # R1 09:00-09:40
        ("ACQUIRED_TO_READY", "ROUTINE", 1, 20.0, 20.0, None, None),  # R1 09:40-10:00
        # S1 5, S2 10, S3 10 (its first opening): median 10, p90 rank ceil(2.7) = 3: 10.
        ("READY_TO_OPENED", "STAT", 3, 10.0, 10.0, None, None),
        # S1 25, S2 45, S3 50 (from its first READY): median 45, p90 50; over 30: S2, S3,
        # 2 / 3 = 0.6667.
        ("READY_TO_FINAL", "STAT", 3, 45.0, 50.0, 2, 0.6667),
        ("READY_TO_FINAL", "URGENT", 1, 180.0, 180.0, 0, 0.0),  # U1 12:00-15:00, target 240
        # R1 240, R4 1,500 (target 1,440: over), R2 4,320 (the target: not over), R3 4,321
        # (over); R5, R6 ended outside the period. Median (1,500 + 4,320) / 2 = 2,910; p90
        # rank ceil(3.6) = 4: 4,321; 2 / 4 = 0.5.
        ("READY_TO_FINAL", "ROUTINE", 4, 2910.0, 4321.0, 2, 0.5),
        ("FINAL_TO_COMMUNICATED", "ROUTINE", 1, 30.0, 30.0, None, None),  # R1 14:00-14:30
        # From 03-02 00:00: S1 32 h 25 = 1,945, S2 33 h 45 = 2,025, S3 34 h 50 = 2,090.
        ("ORDER_TO_FINAL", "STAT", 3, 2025.0, 2090.0, None, None),
        ("ORDER_TO_FINAL", "URGENT", 1, 420.0, 420.0, None, None),  # U1 08:00-15:00
        # R1 38 h = 2,280, R4 105 h = 6,300, R2 130 h = 7,800, R3 7,801: median
        # (6,300 + 7,800) / 2 = 7,050, p90 7,801.
        ("ORDER_TO_FINAL", "ROUTINE", 4, 7050.0, 7801.0, None, None),
    ]
    assert rows(await h.metrics(now=END, modality=Modality.CT)) == [  # S1-S3 and R4
        ("READY_TO_OPENED", "STAT", 3, 10.0, 10.0, None, None),
        ("READY_TO_FINAL", "STAT", 3, 45.0, 50.0, 2, 0.6667),
        ("READY_TO_FINAL", "ROUTINE", 1, 1500.0, 1500.0, 1, 1.0),
        ("ORDER_TO_FINAL", "STAT", 3, 2025.0, 2090.0, None, None),
        ("ORDER_TO_FINAL", "ROUTINE", 1, 6300.0, 6300.0, None, None),
    ]
    north = [r for r in rows(await h.metrics(now=END, site="NORTH")) if r[0] == "READY_TO_FINAL"]
    # R1 240, R2 4,320, R3 4,321 (over): median 4,320, p90 rank 3: 4,321; 1 / 3 = 0.3333.
    assert north == [
        ("READY_TO_FINAL", "URGENT", 1, 180.0, 180.0, 0, 0.0),
        ("READY_TO_FINAL", "ROUTINE", 3, 4320.0, 4321.0, 1, 0.3333),
    ]


async def test_metrics_over_graphql_take_a_site_and_a_modality(api: Api, clock: Clock) -> None:
    await factories.reference(api.db)
    h = History(api.db, clock)
    await turnaround_history(h)
    clock.now = END
    data = await api.data("""{ metrics(from: "2026-03-02T00:00:00Z", to: "2026-03-09T00:00:00Z",
                                       siteCode: "MAIN", modality: CT) {
        siteCode modality
        turnaround { stage priority minutes { count median p90 } targetBreaches targetBreachRate }
        attendance { appointments noShowRate lateCancellationWindowHours }
        criticalResults { level windowMinutes communicated inTimeRate } } }""")
    metrics = data["metrics"]
    assert metrics["siteCode"] == "MAIN" and metrics["modality"] == "CT"  # type: ignore[index]
    assert metrics["turnaround"][2] == {  # type: ignore[index]
        "stage": "READY_TO_FINAL",
        "priority": "ROUTINE",
        "minutes": {"count": 1, "median": 1500.0, "p90": 1500.0},
        "targetBreaches": 1,
        "targetBreachRate": 1.0,
    }
    assert metrics["attendance"] == {  # type: ignore[index]
        "appointments": 0,
        "noShowRate": None,
        "lateCancellationWindowHours": 24.0,
    }
    assert [c["windowMinutes"] for c in metrics["criticalResults"]] == [  # type: ignore[index]
        60.0,
        360.0,
        4320.0,
    ]
    unknown = await api.graphql("""{ metrics(from: "2026-03-02T00:00:00Z",
        to: "2026-03-09T00:00:00Z", siteCode: "NOWHERE") { repeatRate } }""")
    assert "site NOWHERE does not exist" in unknown["errors"][0]["message"]  # type: ignore[index]


async def test_a_cancellation_through_the_service_is_stamped_and_counted_late_near_the_slot(
    db: Database, clock: Clock
) -> None:
    await factories.reference(db)
    exam = await factories.order(db)  # Monday 07:00
    slot = await factories.first_slot(db, "USABD")  # US1 opens at 08:00
    await factories.drive(db, exam, S.CANCELLED)  # booked, then cancelled at once, at 07:00
    got = await db.read(lambda s: s.scalars(sa.select(Appointment)).one())
    assert (got.status, got.starts_at, got.cancelled_at) == (
        AppointmentStatus.CANCELLED,
        slot.starts_at,
        clock.now,
    )
    m = await History(db, clock).metrics(now=END)
    # Cancelled an hour before the slot: 1 late of 1 appointment.
    assert (
        m.attendance.appointments,
        m.attendance.late_cancellations,
        m.attendance.late_cancellation_rate,
    ) == (1, 1, 1.0)
