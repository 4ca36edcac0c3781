"""Follow-ups recorded with what and when, and escalated when overdue (no database)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from domain import events as ev
from domain.enums import (
    ExamStatus,
    FollowUpStatus,
    IntervalUnit,
    Modality,
    NotificationTemplate,
)
from domain.errors import IssueCode, NotPermitted, ValidationFailed
from domain.lifecycle import Actor, Role
from domain.models import FollowUpRecommendation, Notification, Referrer
from domain.services import follow_ups, timed
from domain.types import pk
from tests.unit.services.conftest import NOW, READER, SUPERVISOR, Department

D, W, M, Y = IntervalUnit.DAYS, IntervalUnit.WEEKS, IntervalUnit.MONTHS, IntervalUnit.YEARS


@pytest.mark.parametrize(
    ("start", "count", "unit", "due"),
    [
        (date(2030, 3, 4), 10, D, date(2030, 3, 14)),
        (date(2030, 3, 4), 6, W, date(2030, 4, 15)),
        (date(2030, 3, 4), 3, M, date(2030, 6, 4)),
        (date(2026, 11, 30), 3, M, date(2027, 2, 28)),  # February has no 30th
        (date(2027, 11, 30), 3, M, date(2028, 2, 29)),  # ... and a 29th in a leap year
        (date(2030, 1, 31), 1, M, date(2030, 2, 28)),
        (date(2030, 10, 15), 14, M, date(2031, 12, 15)),  # across a year end
        (date(2028, 2, 29), 1, Y, date(2029, 2, 28)),
        (date(2030, 3, 4), 2, Y, date(2032, 3, 4)),
    ],
)
def test_the_due_date_follows_from_the_interval_in_calendar_months(
    start: date, count: int, unit: IntervalUnit, due: date
) -> None:
    assert follow_ups.due_date(start, count, unit) == due


def record(department: Department, **given: object) -> FollowUpRecommendation:
    exam = department.exam(ExamStatus.FINAL)
    arguments: dict[str, object] = {"recommendation": "CT chest in 3 months"} | given
    return follow_ups.record_follow_up(
        uow=department.uow,
        actor=READER,
        exam_id=pk(exam),
        **arguments,  # type: ignore[arg-type]
    )


def issues(department: Department, **given: object) -> list[tuple[str, IssueCode]]:
    with pytest.raises(ValidationFailed) as failed:
        record(department, **given)
    return [(i.field, i.code) for i in failed.value.issues]


def test_a_recommendation_keeps_modality_region_interval_and_reason_and_its_due_date_follows(
    department: Department,
) -> None:
    row = record(
        department,
        modality=Modality.CT,
        body_region=" chest ",  # the catalogue's word, in any case
        interval=(3, M),
        reason="6 mm solid nodule (Fleischner)",
    )

    assert (row.modality, row.body_region) == (Modality.CT, "CHEST")
    assert (row.interval_count, row.interval_unit) == (3, M)
    assert row.due_on == date(2030, 6, 4) and row.reason == "6 mm solid nodule (Fleischner)"
    assert row.status == FollowUpStatus.OPEN and row.created_at == NOW
    (recorded,) = department.uow.events_of(ev.FollowUpRecorded)
    assert recorded.follow_up_id == pk(row)  # type: ignore[attr-defined]


def test_a_procedure_code_names_its_modality_and_region(department: Department) -> None:
    row = record(department, procedure_code="CTCHEST", interval=(12, M))
    assert (row.modality, row.body_region, row.due_on) == (Modality.CT, "CHEST", date(2031, 3, 4))


def test_an_older_client_may_still_give_a_due_date_instead_of_an_interval(
    department: Department,
) -> None:
    row = record(department, due_on=date(2030, 9, 1))
    assert row.due_on == date(2030, 9, 1) and row.interval_count is None and row.modality is None


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ({}, [("interval", IssueCode.REQUIRED)]),
        ({"interval": (3, M), "due_on": date(2030, 6, 1)}, [("due_on", IssueCode.INVALID_VALUE)]),
        ({"interval": (0, M)}, [("interval", IssueCode.OUT_OF_RANGE)]),
        ({"interval": (11, Y)}, [("interval", IssueCode.OUT_OF_RANGE)]),
        ({"interval": (10**9, D)}, [("interval", IssueCode.OUT_OF_RANGE)]),
        ({"due_on": date(2030, 3, 3)}, [("due_on", IssueCode.IN_PAST)]),
        (
            {"interval": (3, M), "modality": Modality.MR, "body_region": "CHEST"},
            [("body_region", IssueCode.NOT_FOUND)],  # the catalogue has no MR chest
        ),
        ({"interval": (3, M), "body_region": "CHEST"}, [("modality", IssueCode.REQUIRED)]),
        ({"interval": (3, M), "modality": Modality.CT}, [("body_region", IssueCode.REQUIRED)]),
        (
            {"interval": (3, M), "procedure_code": "CTCHEST", "modality": Modality.MR},
            [("procedure_code", IssueCode.INVALID_VALUE)],
        ),
        ({"interval": (3, M), "procedure_code": "NOPE"}, [("procedure_code", IssueCode.NOT_FOUND)]),
        ({"interval": (3, M), "recommendation": " "}, [("recommendation", IssueCode.REQUIRED)]),
    ],
)
def test_bad_input_is_refused_naming_the_field_and_nothing_is_written(
    department: Department, given: dict[str, object], expected: list[tuple[str, IssueCode]]
) -> None:
    assert issues(department, **given) == expected
    assert department.uow.rows.all(FollowUpRecommendation) == []


def test_only_a_final_report_recommends_and_only_some_roles_record(department: Department) -> None:
    draft = department.exam(ExamStatus.IN_INTERPRETATION)
    with pytest.raises(ValidationFailed) as failed:
        follow_ups.record_follow_up(
            uow=department.uow, actor=READER, exam_id=pk(draft), recommendation="x", interval=(1, M)
        )
    assert [(i.field, i.code) for i in failed.value.issues] == [("exam_id", IssueCode.NOT_REPORTED)]
    with pytest.raises(NotPermitted):
        follow_ups.record_follow_up(
            uow=department.uow,
            actor=Actor("tech", Role.TECHNOLOGIST),
            exam_id=pk(draft),
            recommendation="x",
            interval=(1, M),
        )


def overdue_follow_up(department: Department) -> FollowUpRecommendation:
    row = record(department, procedure_code="CTCHEST", interval=(3, M))
    department.uow.now = datetime_on(row.due_on)
    assert timed.notify_follow_ups_due(uow=department.uow) == [pk(row)]
    return row


def datetime_on(day: date) -> datetime:
    """Nine in the morning (UTC) of `day`."""
    return NOW.replace(year=day.year, month=day.month, day=day.day)


def test_an_overdue_follow_up_climbs_the_chain_referrer_covering_then_supervisor(
    department: Department,
) -> None:
    uow, every = department.uow, timedelta(days=14)
    covering = Referrer(code="REF02", name="Dr Covering")
    uow.seed(covering)
    department.referrer.covered_by_id = covering.id
    row = overdue_follow_up(department)  # the referrer was told on the due date

    def escalate() -> list[int]:
        done = follow_ups.escalate_overdue_follow_ups(uow=uow, actor=SUPERVISOR, every=every)
        return [pk(f) for f in done]

    assert escalate() == []  # told today; not overdue yet
    uow.now += every - timedelta(seconds=1)
    assert escalate() == []
    uow.now += timedelta(seconds=1)
    assert escalate() == [pk(row)]
    assert escalate() == []  # once per step
    for _ in range(3):
        uow.now += every
        assert escalate() == [pk(row)]

    steps = [
        (e.escalation_count, e.recipient_kind, e.recipient_id)  # type: ignore[attr-defined]
        for e in uow.events_of(ev.FollowUpEscalated)
    ]
    referrer = pk(department.referrer)
    assert steps == [
        (1, "referrer", referrer),
        (2, "covering", covering.id),
        (3, "supervisor", None),
        (4, "supervisor", None),
    ]
    sent = [
        (n["recipient_kind"], n["recipient_id"], n["payload"]["escalation"])
        for n in uow.appended[Notification]
        if n["template"] == NotificationTemplate.FOLLOW_UP_OVERDUE
    ]
    assert sent == [
        ("referrer", referrer, 1),
        ("referrer", covering.id, 2),
        ("supervisor", 0, 3),
        ("supervisor", 0, 4),
    ]
    assert row.escalation_count == 4 and row.escalated_at == uow.now


def test_an_overdue_follow_up_with_an_exam_ordered_or_one_completed_is_not_escalated(
    department: Department,
) -> None:
    uow, every = department.uow, timedelta(days=14)
    linked = overdue_follow_up(department)
    done = overdue_follow_up(department)
    linked.completed_exam_id = pk(department.exam(ExamStatus.SCHEDULED))
    done.status = FollowUpStatus.COMPLETED
    uow.now += every

    assert follow_ups.escalate_overdue_follow_ups(uow=uow, actor=SUPERVISOR, every=every) == []
