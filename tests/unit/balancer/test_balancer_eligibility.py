"""Eligibility, pins and the reasons given when a study cannot be placed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from balancer import Radiologist, Snapshot, Study, check_pin, is_eligible
from balancer.eligibility import refusal, unassignable_reason
from domain.enums import RadiologistStatus, Subspecialty

NOW = datetime(2025, 3, 3, 12, 0, tzinfo=UTC)  # the builders' clock (conftest)
MakeStudy = Callable[..., Study]
MakeReader = Callable[..., Radiologist]


def test_a_credentialed_privileged_available_reader_on_shift_is_eligible(
    make_study: MakeStudy, make_reader: MakeReader
) -> None:
    assert is_eligible(make_study(1), make_reader(1), NOW)


def test_each_hard_condition_refuses_with_its_own_reason(
    make_study: MakeStudy, make_reader: MakeReader
) -> None:
    study = make_study(1)
    cases = {
        "NEURO credential": make_reader(1, subspecialties=frozenset({Subspecialty.NEURO})),
        "privilege for site 1": make_reader(1, site_privileges=frozenset({2})),
        "not on shift": make_reader(1, shift_end=NOW),
        "ON_BREAK": make_reader(1, status=RadiologistStatus.ON_BREAK),
    }
    assert (
        refusal(study, cases["NEURO credential"], NOW) == "radiologist 1 holds no BODY credential"
    )
    for expected, reader in list(cases.items())[1:]:
        why = refusal(study, reader, NOW)
        assert why is not None and expected in why
    assert refusal(study, make_reader(1, shift_start=None, shift_end=None), NOW) is not None


def test_rules_can_limit_or_exclude_readers(make_study: MakeStudy, make_reader: MakeReader) -> None:
    limited = make_study(1, allowed_radiologists=frozenset({2}))
    excluded = make_study(2, excluded_radiologists=frozenset({1}))
    assert not is_eligible(limited, make_reader(1), NOW)
    assert is_eligible(limited, make_reader(2), NOW)
    assert not is_eligible(excluded, make_reader(1), NOW)


def test_check_pin_allows_an_eligible_reader(
    make_study: MakeStudy, make_reader: MakeReader
) -> None:
    snap = Snapshot(NOW, (make_study(1),), (make_reader(1),))
    assert check_pin(snap, 1, 1) is None


def test_check_pin_refuses_ineligible_unknown_and_opened_elsewhere(
    make_study: MakeStudy, make_reader: MakeReader
) -> None:
    snap = Snapshot(
        NOW,
        (make_study(1), make_study(2, opened_by=2, opened_at=NOW)),
        (make_reader(1, status=RadiologistStatus.OFF), make_reader(2)),
    )
    assert check_pin(snap, 1, 1) == "radiologist 1 is OFF"
    assert check_pin(snap, 1, 9) == "radiologist 9 is unknown"
    assert check_pin(snap, 9, 2) == "study 9 is not waiting to be read"
    assert check_pin(snap, 2, 1) == "study 2 is already opened by radiologist 2"


def test_check_pin_refuses_a_reader_at_the_cap(
    make_study: MakeStudy, make_reader: MakeReader
) -> None:
    held = make_study(1, cap_group="STAT", opened_by=1, opened_at=NOW)
    snap = Snapshot(NOW, (held, make_study(2, cap_group="STAT")), (make_reader(1),), {"STAT": 1})
    why = check_pin(snap, 2, 1)
    assert why is not None and "at most 1 STAT" in why


def test_unassignable_reason_names_the_filter_that_empties_the_pool(
    make_study: MakeStudy, make_reader: MakeReader
) -> None:
    study = make_study(1)
    body_elsewhere = make_reader(1, site_privileges=frozenset({2}))
    off = make_reader(2, shift_start=NOW + timedelta(hours=1))
    away = make_reader(3, status=RadiologistStatus.ON_BREAK)
    assert unassignable_reason(study, [make_reader(1, subspecialties=frozenset())], NOW) == (
        "no radiologist holds the BODY credential"
    )
    assert "privileges for site 1" in unassignable_reason(study, [body_elsewhere], NOW)
    assert "on shift" in unassignable_reason(study, [off], NOW)
    assert "away" in unassignable_reason(study, [away], NOW)
    ruled = make_study(2, excluded_radiologists=frozenset({4}))
    assert "rules exclude" in unassignable_reason(ruled, [make_reader(4)], NOW)
