"""The domain services on real SQLite and PostgreSQL: lifecycle, idempotency, conflicts."""

from __future__ import annotations

import asyncio
import itertools
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from balancer.simulation.catalog import PROCEDURES as SIMULATED
from balancer.simulation.department import EPOCH, study_of
from domain.catalog_data import TURNAROUND_MINUTES
from domain.db import Database
from domain.enums import CriticalLevel, ExamStatus, FollowUpStatus, PatientClass, Priority
from domain.errors import (
    Conflict,
    InvalidTransition,
    NotFound,
    PreconditionFailed,
    SlotTaken,
    ValidationFailed,
)
from domain.models import (
    Exam,
    ExamStatusChange,
    FollowUpRecommendation,
    Procedure,
    TurnaroundTarget,
)
from domain.services import acquisition, escalation, follow_ups, orders, results, scheduling
from tests.factories import (
    RADIOLOGIST,
    REFERRER,
    SCHEDULER,
    SUPERVISOR,
    TECH,
    count_rows,
    current,
    drive,
    first_slot,
    order,
    reference,
)

pytestmark = pytest.mark.usefixtures("backend")


@pytest.fixture
async def department(db: Database) -> Database:
    await reference(db)
    return db


@pytest.mark.parametrize("target", [s for s in ExamStatus])
async def test_every_status_is_reachable_with_a_full_history(
    department: Database, target: ExamStatus
) -> None:
    exam = await drive(department, await order(department), target)
    assert exam.status == target
    history = await department.read(
        lambda s: list(
            s.scalars(
                sa.select(ExamStatusChange)
                .where(ExamStatusChange.exam_id == exam.id)
                .order_by(ExamStatusChange.id)
            )
        )
    )
    assert history[0].from_status is None and history[0].to_status == ExamStatus.ORDERED
    assert history[-1].to_status == target
    for earlier, later in itertools.pairwise(history):
        assert later.from_status == earlier.to_status  # an unbroken chain


async def test_a_resent_order_returns_the_same_exam(department: Database) -> None:
    first = await order(department, placer="P-42")
    again = await order(department, placer="P-42")
    assert again.id == first.id
    assert await department.read(count_rows("exams")) == 1


async def test_a_reused_placer_number_for_another_procedure_is_refused(
    department: Database,
) -> None:
    await order(department, placer="P-43")
    with pytest.raises(ValidationFailed) as failure:
        await order(department, placer="P-43", procedure="CTHEAD", site="MAIN")
    assert failure.value.issues[0].code == "PLACER_ORDER_REUSED"


def place(placer: str, mrn: str, referrer: str) -> Any:
    """A scheduler's order (entered for `referrer`, in the department's placer scope)."""
    return lambda uow: orders.place_order(
        uow=uow,
        actor=SCHEDULER,
        order_source="EPIC",
        placer_order_number=placer,
        patient_mrn=mrn,
        referrer_code=referrer,
        procedure_code="USABD",
        site_code="NORTH",
        priority=Priority.ROUTINE,
        patient_class=PatientClass.OUTPATIENT,
        indication="Abdominal pain",
        icd10_code="R10.9",
    )


@pytest.mark.parametrize(
    ("mrn", "referrer", "field"),
    [
        ("MRN999999", "REF01", "patient_mrn"),
        ("MRN000001", "REF99", "referrer_code"),
        ("MRN999999", "REF99", "patient_mrn"),  # the patient is named first
    ],
)
@pytest.mark.parametrize("placer", ["P-NEW", "P-44"])  # P-44: placed before, in this scope
async def test_an_order_naming_an_unknown_patient_or_referrer_is_not_found(
    department: Database, mrn: str, referrer: str, field: str, placer: str
) -> None:
    placed = await department.run(place("P-44", "MRN000001", "REF01"))
    with pytest.raises(NotFound) as missing:
        await department.run(place(placer, mrn, referrer))
    assert missing.value.field == field
    assert await department.read(count_rows("exams")) == 1
    again = await department.run(place("P-44", "MRN000001", "REF01"))
    assert (again.exam.id, again.created) == (placed.exam.id, False)


async def test_concurrent_identical_orders_create_one_exam(department: Database) -> None:
    placed = await asyncio.gather(*(order(department, placer="P-RACE") for _ in range(8)))
    assert len({e.id for e in placed}) == 1
    assert await department.read(count_rows("exams")) == 1


async def test_concurrent_transitions_on_one_exam_one_wins(department: Database) -> None:
    exam = await drive(department, await order(department), ExamStatus.SCHEDULED)
    version = exam.version

    async def check_in() -> str:
        try:
            await department.run(
                lambda uow: scheduling.check_in(
                    uow=uow, actor=SCHEDULER, exam_id=exam.id, expected_version=version
                )
            )
            return "won"
        except Conflict:
            return "conflict"

    department.clock.advance(days=1)  # type: ignore[attr-defined]
    outcomes = await asyncio.gather(*(check_in() for _ in range(10)))
    assert sorted(outcomes) == ["conflict"] * 9 + ["won"]
    history = await department.read(
        lambda s: s.scalar(
            sa.select(sa.func.count())
            .select_from(ExamStatusChange)
            .where(
                ExamStatusChange.exam_id == exam.id,
                ExamStatusChange.to_status == ExamStatus.CHECKED_IN,
            )
        )
    )
    assert history == 1


async def test_racing_writers_without_versions_cannot_both_win(department: Database) -> None:
    """Concurrent check-ins that name no version: the database still lets only one through."""
    exam = await drive(department, await order(department), ExamStatus.SCHEDULED)
    department.clock.advance(days=1)  # type: ignore[attr-defined]

    async def check_in() -> str:
        try:
            await department.run(
                lambda uow: scheduling.check_in(uow=uow, actor=SCHEDULER, exam_id=exam.id)
            )
            return "won"
        except (Conflict, InvalidTransition):
            return "lost"

    outcomes = await asyncio.gather(*(check_in() for _ in range(10)))
    assert outcomes.count("won") == 1
    checked_in = await department.read(
        lambda s: s.scalar(
            sa.select(sa.func.count())
            .select_from(ExamStatusChange)
            .where(
                ExamStatusChange.exam_id == exam.id,
                ExamStatusChange.to_status == ExamStatus.CHECKED_IN,
            )
        )
    )
    assert checked_in == 1


# SQLite only: on PostgreSQL the concurrent check-in test above races real sessions.
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_a_stale_write_is_refused_by_the_version_column(department: Database) -> None:
    """Two sessions hold the same version; the second UPDATE matches no row."""
    from sqlalchemy.orm import Session
    from sqlalchemy.orm.exc import StaleDataError

    assert department.sync_engine is not None
    exam = await drive(department, await order(department), ExamStatus.SCHEDULED)
    engine = department.sync_engine
    # SQLite serialises writers (each takes the write lock as it begins), so the two sessions
    # take turns: the second read its row before the first wrote, and writes after.
    with Session(engine, expire_on_commit=False) as second:
        theirs = second.get(Exam, exam.id)
        assert theirs is not None
        second.commit()  # its read is over; it keeps the row it read, version and all
        with Session(engine) as first:
            mine = first.get(Exam, exam.id)
            assert mine is not None
            mine.status = ExamStatus.CHECKED_IN
            first.commit()
        theirs.status = ExamStatus.CANCELLED
        with pytest.raises(StaleDataError):
            second.commit()
    assert (await current(department, exam.id)).status == ExamStatus.CHECKED_IN


async def test_double_booking_is_impossible(department: Database) -> None:
    first = await order(department)
    second = await order(department)
    slot = await first_slot(department, "USABD")
    await department.run(
        lambda uow: scheduling.schedule_exam(
            uow=uow,
            actor=SCHEDULER,
            exam_id=first.id,
            resource_code=slot.resource_code,
            starts_at=slot.starts_at,
        )
    )
    with pytest.raises(SlotTaken):
        await department.run(
            lambda uow: scheduling.schedule_exam(
                uow=uow,
                actor=SCHEDULER,
                exam_id=second.id,
                resource_code=slot.resource_code,
                starts_at=slot.starts_at,
            )
        )
    assert (await current(department, second.id)).status == ExamStatus.ORDERED
    assert await department.read(count_rows("appointments")) == 1


async def test_cancelling_frees_the_slot(department: Database) -> None:
    exam = await order(department)
    slot = await first_slot(department, "USABD")
    await department.run(
        lambda uow: scheduling.schedule_exam(
            uow=uow,
            actor=SCHEDULER,
            exam_id=exam.id,
            resource_code=slot.resource_code,
            starts_at=slot.starts_at,
        )
    )
    await department.run(
        lambda uow: scheduling.cancel_exam(
            uow=uow, actor=SCHEDULER, exam_id=exam.id, reason="Patient request"
        )
    )
    assert (await first_slot(department, "USABD")).starts_at == slot.starts_at


async def test_stat_and_ed_exams_may_check_in_without_appointment(department: Database) -> None:
    stat = await order(
        department,
        procedure="CTHEAD",
        site="MAIN",
        priority=Priority.STAT,
        patient_class=PatientClass.INPATIENT,
    )
    await department.run(lambda uow: scheduling.check_in(uow=uow, actor=SCHEDULER, exam_id=stat.id))
    routine = await order(department)
    with pytest.raises(PreconditionFailed) as failure:
        await department.run(
            lambda uow: scheduling.check_in(uow=uow, actor=SCHEDULER, exam_id=routine.id)
        )
    assert failure.value.code == "NOT_FAST_TRACK"


async def test_acquisition_needs_a_complete_prep_checklist(department: Database) -> None:
    exam = await drive(department, await order(department), ExamStatus.CHECKED_IN)
    with pytest.raises(PreconditionFailed) as failure:
        await department.run(
            lambda uow: acquisition.start_acquisition(
                uow=uow, actor=TECH, exam_id=exam.id, resource_code="US1"
            )
        )
    assert failure.value.code == "PREP_INCOMPLETE"


async def test_rejected_metadata_is_corrected_back_to_acquired(department: Database) -> None:
    from tests.factories import header_for

    exam = await drive(department, await order(department), ExamStatus.METADATA_REJECTED)
    header = await header_for(department, exam)
    with pytest.raises(InvalidTransition):
        await department.run(
            lambda uow: acquisition.register_storage(
                uow=uow,
                actor=TECH,
                exam_id=exam.id,
                study_instance_uid="1.2.3",
                archive_location="pacs://x",
            )
        )
    await department.run(
        lambda uow: acquisition.correct_metadata(
            uow=uow, actor=TECH, exam_id=exam.id, header=header, reason="MRN typo fixed"
        )
    )
    assert (await current(department, exam.id)).status == ExamStatus.ACQUIRED


async def test_a_critical_result_must_be_acknowledged_before_closing(department: Database) -> None:
    exam = await drive(
        department,
        await order(department),
        ExamStatus.COMMUNICATED,
        critical=CriticalLevel.CRITICAL,
    )
    with pytest.raises(PreconditionFailed) as failure:
        await department.run(
            lambda uow: results.close_exam(uow=uow, actor=SUPERVISOR, exam_id=exam.id)
        )
    assert failure.value.code == "CRITICAL_RESULT_UNACKNOWLEDGED"
    department.clock.advance(minutes=90)  # type: ignore[attr-defined]
    escalated = await department.run(
        lambda uow: escalation.escalate_overdue_results(uow=uow, actor=SUPERVISOR)
    )
    assert [c.escalation_count for c in escalated] == [1]
    await department.run(
        lambda uow: results.acknowledge_result(uow=uow, actor=REFERRER, exam_id=exam.id)
    )
    await department.run(lambda uow: results.close_exam(uow=uow, actor=SUPERVISOR, exam_id=exam.id))
    assert (await current(department, exam.id)).status == ExamStatus.CLOSED


async def test_a_critical_finding_not_communicated_in_its_window_escalates_once_per_window(
    department: Database,
) -> None:
    exam = await drive(
        department, await order(department), ExamStatus.FINAL, critical=CriticalLevel.CRITICAL
    )

    def escalate() -> Any:
        return department.run(
            lambda uow: escalation.escalate_uncommunicated_results(uow=uow, actor=SUPERVISOR)
        )

    assert await escalate() == []
    department.clock.advance(minutes=61)  # type: ignore[attr-defined]
    assert await escalate() == [exam.id]
    assert await escalate() == []


async def test_an_addendum_keeps_the_status_and_is_recorded(department: Database) -> None:
    from domain.services import reading

    exam = await drive(department, await order(department), ExamStatus.FINAL)
    await department.run(
        lambda uow: reading.add_addendum(
            uow=uow, actor=RADIOLOGIST, exam_id=exam.id, text="Comparison with prior: stable."
        )
    )
    after = await current(department, exam.id)
    assert after.status == ExamStatus.FINAL
    last = await department.read(
        lambda s: s.scalars(
            sa.select(ExamStatusChange)
            .where(ExamStatusChange.exam_id == exam.id)
            .order_by(ExamStatusChange.id.desc())
        ).first()
    )
    assert (last.from_status, last.to_status, last.event) == (
        ExamStatus.FINAL,
        ExamStatus.FINAL,
        "ReportAmended",
    )


async def test_a_failed_step_writes_nothing(department: Database) -> None:
    exam = await order(department)
    before = await department.read(count_rows("exam_status_history"))
    with pytest.raises(InvalidTransition):
        await department.run(
            lambda uow: results.close_exam(uow=uow, actor=SUPERVISOR, exam_id=exam.id)
        )
    assert await department.read(count_rows("exam_status_history")) == before


async def test_an_order_that_fails_after_its_exam_is_inserted_writes_nothing(
    department: Database,
) -> None:
    """The exam's insert sits in a savepoint (the idempotency race); a failure later in the
    same command must take it back too. pysqlite's own transaction handling let the
    savepoint's release commit the insert on its own when nothing had been written before."""
    exams_before = await department.read(count_rows("exams"))
    history_before = await department.read(count_rows("exam_status_history"))

    def place_then_fail(uow: Any) -> None:
        orders.place_order(
            uow=uow,
            actor=REFERRER,
            order_source="EPIC",
            placer_order_number="HALF-1",
            patient_mrn="MRN000001",
            referrer_code="REF01",
            procedure_code="USABD",
            site_code="NORTH",
            priority=Priority.ROUTINE,
            patient_class=PatientClass.OUTPATIENT,
            indication="Abdominal pain",
            icd10_code="R10.9",
        )
        raise RuntimeError("a later step of the command failed")

    with pytest.raises(RuntimeError):
        await department.run(place_then_fail)
    assert await department.read(count_rows("exams")) == exams_before
    assert await department.read(count_rows("exam_status_history")) == history_before


async def test_a_simulated_day_is_due_when_the_live_department_is_for_every_procedure_and_class(
    department: Database,
) -> None:
    """The simulator and the live department read one table of targets, so their deadlines agree."""
    pairs = list(itertools.product(Priority, PatientClass))

    def live_minutes(uow: Any) -> dict[tuple[str, Priority, PatientClass], int]:
        rows = uow.session.execute(sa.select(Procedure.code, Procedure.id))
        ids = {code: procedure_id for code, procedure_id in rows}
        return {
            (p.code, priority, klass): acquisition.turnaround_minutes(
                uow, Exam(procedure_id=ids.get(p.code), priority=priority, patient_class=klass)
            )
            for p in SIMULATED
            for priority, klass in pairs
        }

    simulated = {
        (p.code, priority, klass): (study_of(1, p, klass, priority, 1, EPOCH).due_at - EPOCH)
        / timedelta(minutes=1)
        for p in SIMULATED
        for priority, klass in pairs
    }
    assert simulated == await department.run(live_minutes)


async def test_a_simulated_day_draws_the_live_departments_procedures(department: Database) -> None:
    """What the simulator reads and draws is what the live department was seeded with."""

    def live(uow: Any) -> dict[str, tuple[object, ...]]:
        rows = uow.session.execute(
            sa.select(
                Procedure.code,
                Procedure.name,
                Procedure.modality,
                Procedure.body_part,
                Procedure.subspecialty,
                Procedure.wrvu,
                Procedure.read_minutes,
            )
        )
        return {code: tuple(rest) for code, *rest in rows}

    simulated = {
        p.code: (p.name, p.modality, p.body_part, p.subspecialty, p.wrvu, p.read_minutes)
        for p in SIMULATED
    }
    in_department = await department.run(live)
    assert simulated == {code: in_department[code] for code in simulated}


async def test_an_exam_whose_procedure_has_no_targets_is_due_by_the_catalogues_for_its_class(
    department: Database,
) -> None:
    def without_targets(uow: Any) -> dict[tuple[Priority, PatientClass], int]:
        procedure_id = uow.session.scalar(sa.select(Procedure.id).where(Procedure.code == "CTHEAD"))
        uow.session.execute(
            sa.delete(TurnaroundTarget).where(TurnaroundTarget.procedure_id == procedure_id)
        )
        return {
            (priority, klass): acquisition.turnaround_minutes(
                uow, Exam(procedure_id=procedure_id, priority=priority, patient_class=klass)
            )
            for priority, klass in itertools.product(Priority, PatientClass)
        }

    assert await department.run(without_targets) == dict(TURNAROUND_MINUTES)


async def test_a_follow_up_links_to_the_matching_exam_ordered_later_and_completes_when_reported(
    department: Database,
) -> None:
    from domain.services import timed

    first = await drive(department, await order(department), ExamStatus.FINAL)
    follow_up = await department.run(
        lambda uow: follow_ups.record_follow_up(
            uow=uow,
            actor=RADIOLOGIST,
            exam_id=first.id,
            recommendation="Ultrasound abdomen in 6 months",
            due_on=uow.now.date() + timedelta(days=180),
            procedure_code="USABD",
        )
    )

    def track() -> Any:
        return department.run(lambda uow: timed.track_follow_ups(uow=uow))

    assert await track() == ([], [])
    await order(department, procedure="CTHEAD")  # same patient, not what was recommended
    assert await track() == ([], [])
    matching = await order(department, procedure="USABD")
    assert await track() == ([follow_up.id], [])
    assert await track() == ([], [])  # linked once

    await drive(department, matching, ExamStatus.FINAL)
    assert await track() == ([], [follow_up.id])
    done = await department.read(lambda s: s.get(FollowUpRecommendation, follow_up.id))
    assert done.status == FollowUpStatus.COMPLETED and done.completed_exam_id == matching.id
