"""validate(): each hard rule, broken on purpose, is reported with its own code."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from balancer import (
    Assignment,
    Plan,
    Radiologist,
    Snapshot,
    Study,
    ViolationCode,
    plan,
    validate,
)
from domain.enums import RadiologistStatus, Subspecialty

NOW = datetime(2025, 3, 3, 12, 0, tzinfo=UTC)  # the builders' clock (conftest)
MakeStudy = Callable[..., Study]
MakeReader = Callable[..., Radiologist]


def hand_plan(
    items: dict[int, tuple[int, int]], unassignable: dict[int, str] | None = None
) -> Plan:
    """A plan from {study id: (reader id, position)}."""
    return Plan(
        assignments={
            sid: Assignment(sid, rid, pos, NOW, NOW + timedelta(minutes=10), "test")
            for sid, (rid, pos) in items.items()
        },
        unassignable=unassignable or {},
        objective={},
        formulation="hand",
        duration_ms=0.0,
    )


def codes(snapshot: Snapshot, result: Plan) -> set[ViolationCode]:
    return {v.code for v in validate(snapshot, result)}


def test_a_correct_hand_plan_is_valid(make_study: MakeStudy, make_reader: MakeReader) -> None:
    snap = Snapshot(NOW, (make_study(1), make_study(2)), (make_reader(1),))
    assert validate(snap, hand_plan({1: (1, 0), 2: (1, 1)})) == []


def test_a_dropped_study_is_reported(make_study: MakeStudy, make_reader: MakeReader) -> None:
    snap = Snapshot(NOW, (make_study(1), make_study(2)), (make_reader(1),))
    violations = validate(snap, hand_plan({1: (1, 0)}))
    assert [(v.code, v.study_id) for v in violations] == [(ViolationCode.DROPPED, 2)]


def test_a_study_both_assigned_and_unassignable_or_unknown_is_reported(
    make_study: MakeStudy, make_reader: MakeReader
) -> None:
    snap = Snapshot(NOW, (make_study(1),), (make_reader(1),))
    assert codes(snap, hand_plan({1: (1, 0)}, {1: "x"})) == {ViolationCode.DOUBLE_BOOKED}
    assert ViolationCode.UNKNOWN_STUDY in codes(snap, hand_plan({1: (1, 0), 5: (1, 1)}))
    assert ViolationCode.UNKNOWN_RADIOLOGIST in codes(snap, hand_plan({1: (7, 0)}))


def test_an_ineligible_reader_is_reported(make_study: MakeStudy, make_reader: MakeReader) -> None:
    readers = (make_reader(1), make_reader(2, subspecialties=frozenset({Subspecialty.NEURO})))
    snap = Snapshot(NOW, (make_study(1),), readers)
    violations = validate(snap, hand_plan({1: (2, 0)}))
    assert [(v.code, v.radiologist_id) for v in violations] == [(ViolationCode.INELIGIBLE, 2)]


def test_an_opened_study_on_another_reader_is_reported(
    make_study: MakeStudy, make_reader: MakeReader
) -> None:
    snap = Snapshot(
        NOW, (make_study(1, opened_by=1, opened_at=NOW),), (make_reader(1), make_reader(2))
    )
    assert codes(snap, hand_plan({1: (2, 0)})) == {ViolationCode.OPENED_MOVED}
    assert codes(snap, hand_plan({}, {1: "nobody"})) == {ViolationCode.WRONGLY_UNASSIGNABLE}


def test_a_broken_pin_is_reported_but_a_lapsed_one_is_not(
    make_study: MakeStudy, make_reader: MakeReader
) -> None:
    snap = Snapshot(NOW, (make_study(1, pinned_to=1),), (make_reader(1), make_reader(2)))
    assert codes(snap, hand_plan({1: (2, 0)})) == {ViolationCode.PIN_BROKEN}
    away = tuple(
        dataclasses.replace(r, status=RadiologistStatus.OFF) if r.id == 1 else r
        for r in snap.radiologists
    )
    assert validate(dataclasses.replace(snap, radiologists=away), hand_plan({1: (2, 0)})) == []


def test_an_exceeded_cap_is_reported(make_study: MakeStudy, make_reader: MakeReader) -> None:
    stats = tuple(make_study(i, cap_group="STAT") for i in (1, 2))
    snap = Snapshot(NOW, stats, (make_reader(1), make_reader(2)), {"STAT": 1})
    assert codes(snap, hand_plan({1: (1, 0), 2: (1, 1)})) == {ViolationCode.CAP_EXCEEDED}
    assert validate(snap, hand_plan({1: (1, 0), 2: (2, 0)})) == []


def test_a_plan_that_places_fewer_than_the_maximum_under_a_cap_is_reported(
    make_study: MakeStudy, make_reader: MakeReader
) -> None:
    both = frozenset({Subspecialty.BODY, Subspecialty.NEURO})
    readers = (make_reader(1, subspecialties=both), make_reader(2))
    body = make_study(1, cap_group="STAT")
    neuro = make_study(2, cap_group="STAT", subspecialty=Subspecialty.NEURO)
    snap = Snapshot(NOW, (body, neuro), readers, {"STAT": 1})
    # Maximal (reader 1 is at the cap, reader 2 may not read the neuro study) but not maximum.
    violations = validate(snap, hand_plan({1: (1, 0)}, {2: "cap"}))
    assert [v.code for v in violations] == [ViolationCode.NOT_MAXIMUM]
    assert "1 STAT studies placed where 2 fit" in violations[0].message
    assert validate(snap, hand_plan({1: (2, 0), 2: (1, 0)})) == []


def test_bad_positions_and_opened_work_behind_new_work_are_reported(
    make_study: MakeStudy, make_reader: MakeReader
) -> None:
    studies = (make_study(1), make_study(2, opened_by=1, opened_at=NOW))
    snap = Snapshot(NOW, studies, (make_reader(1),))
    assert codes(snap, hand_plan({1: (1, 0), 2: (1, 2)})) == {ViolationCode.BAD_POSITION}
    assert codes(snap, hand_plan({1: (1, 0), 2: (1, 1)})) == {ViolationCode.BAD_ORDER}


def test_calling_a_study_unassignable_when_someone_may_read_it_is_reported(
    make_study: MakeStudy, make_reader: MakeReader
) -> None:
    snap = Snapshot(NOW, (make_study(1),), (make_reader(1),))
    assert codes(snap, hand_plan({}, {1: "nobody"})) == {ViolationCode.WRONGLY_UNASSIGNABLE}
    full = Snapshot(
        NOW,
        (make_study(1, cap_group="STAT"), make_study(2, cap_group="STAT")),
        (make_reader(1),),
        {"STAT": 1},
    )
    assert validate(full, hand_plan({1: (1, 0)}, {2: "cap"})) == []


def test_the_planner_output_for_the_same_cases_is_valid(
    make_study: MakeStudy, make_reader: MakeReader
) -> None:
    stats = tuple(make_study(i, cap_group="STAT") for i in (1, 2, 3))
    snap = Snapshot(
        NOW,
        (*stats, make_study(4, pinned_to=2), make_study(5, opened_by=1, opened_at=NOW)),
        (make_reader(1), make_reader(2)),
        {"STAT": 1},
    )
    assert validate(snap, plan(snap)) == []
