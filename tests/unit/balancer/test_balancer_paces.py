"""Learned paces: the estimate on hand-worked numbers, and the planner using it."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime, timedelta
from statistics import NormalDist

import pytest

from balancer import Params, Radiologist, Snapshot, Study, plan, validate
from balancer.paces import (
    PaceHistory,
    Spread,
    estimate_spread,
    learned_paces,
    pace_factor,
    read_log_ratio,
)
from domain.enums import Priority

MakeStudy = Callable[..., Study]
MakeReader = Callable[..., Radiologist]

# sigma2 = tau2 = 0.09: one read weighs as much as the prior (shrinkage 1). At the reference
# pace (inv_speed 1) the prior log-median is ln(1) - 0.09 / 2 = -0.045.
HOUR = timedelta(hours=1)
EVEN = Spread(within=0.09, between=0.09)


def history(*minutes: float, catalogue: float = 10.0) -> PaceHistory:
    out = PaceHistory()
    for m in minutes:
        out = out.add(m, catalogue)
    return out


def test_a_reader_without_reads_keeps_the_catalogue_figure() -> None:
    assert pace_factor(PaceHistory(), 1.0, EVEN) == 1.0
    assert pace_factor(PaceHistory(), 0.5, EVEN) == 1.0
    assert learned_paces({}, {1: 1.0}) == {}


def test_one_read_moves_the_estimate_half_way_on_the_log_scale() -> None:
    # y = ln(15 / 10) = 0.405465; w = 1 / (1 + 1) = 0.5;
    # factor = exp(0.5 x (0.405465 + 0.045)) = exp(0.225233) = 1.252614
    assert pace_factor(history(15.0), 1.0, EVEN) == pytest.approx(1.2526139827828346, rel=1e-12)


def test_three_reads_around_the_catalogue_weigh_three_quarters() -> None:
    # y = ln 0.8, 0, ln 1.25: mean 0; w = 3 / 4; factor = exp(0.75 x 0.045) = 1.034326
    assert pace_factor(history(8.0, 10.0, 12.5), 1.0, EVEN) == pytest.approx(
        1.0343259929045108, rel=1e-12
    )


def test_the_prior_is_the_catalogue_scaled_by_the_readers_overall_pace() -> None:
    # A reader at half the reference pace (inv_speed 2) reading exactly as that pace says:
    # y = ln 2 each time; prior = ln 2 - 0.045; the factor is the prior's own mean/median gap,
    # exp(w x 0.045), the same as a reference reader reading exactly the catalogue time.
    slow = pace_factor(history(20.0, 20.0), 2.0, EVEN)
    usual = pace_factor(history(10.0, 10.0), 1.0, EVEN)
    assert slow == pytest.approx(usual, rel=1e-12)
    assert slow == pytest.approx(math.exp(2 / 3 * 0.045), rel=1e-12)


def test_many_reads_come_close_to_the_readers_own_mean() -> None:
    # 400 reads by a reader 40 % faster than the catalogue, log-normal with sd 0.3.
    spread = NormalDist(0.0, 0.3)
    ratios = [0.6 * math.exp(spread.inv_cdf((i + 0.5) / 400)) for i in range(400)]
    own_mean = sum(ratios) / len(ratios)
    factor = pace_factor(history(*(10.0 * r for r in ratios)), 1.0, EVEN)
    assert factor == pytest.approx(own_mean, rel=0.01)
    assert factor < 0.7


def test_reads_that_were_not_reads_teach_nothing() -> None:
    assert read_log_ratio(0.2, 10.0) is None  # opened by mistake
    assert read_log_ratio(600.0, 10.0) is None  # left open overnight
    assert read_log_ratio(5.0, 0.0) is None
    assert history(0.2, 600.0) == PaceHistory()


def test_the_spreads_are_estimated_from_the_history_once_it_suffices() -> None:
    # 8 readers at the reference pace, one group each, 5 reads at m + (-0.2, -0.1, 0, 0.1, 0.2):
    # within = 8 x 0.1 / (8 x 4) = 0.025; the prior is -0.0125 and the cell means sit 0.3 on
    # either side of it: deviation 0.09, noise 0.025 / 5 = 0.005, between = 0.085.
    histories = {}
    for rid in range(1, 9):
        m = -0.0125 + (0.3 if rid % 2 else -0.3)
        ys = [m + d for d in (-0.2, -0.1, 0.0, 0.1, 0.2)]
        histories[rid, "CT"] = PaceHistory(5, sum(ys), sum(y * y for y in ys))
    fitted = estimate_spread(histories, dict.fromkeys(range(1, 9), 1.0))
    assert fitted.within == pytest.approx(0.025, rel=1e-9)
    assert fitted.between == pytest.approx(0.085, rel=1e-9)


def test_a_thin_history_keeps_the_default_spreads() -> None:
    fitted = estimate_spread({(1, "CT"): history(8.0, 12.0)}, {1: 1.0})
    assert fitted == Spread()


def test_a_study_goes_to_the_reader_who_reads_its_group_faster_and_the_reason_says_so(
    make_study: MakeStudy, make_reader: MakeReader, now: datetime
) -> None:
    # A STAT: every minute to its finish counts, so the faster reader finishes it sooner.
    stat = make_study(
        1, procedure_group="MR", read_minutes=30.0, priority=Priority.STAT, due_at=now + HOUR
    )
    readers = (make_reader(1, paces={"MR": 1.3}), make_reader(2, paces={"MR": 0.6}))
    studies = (stat,)
    snapshot = Snapshot(now=now, studies=studies, radiologists=readers)
    result = plan(snapshot, Params())
    assert validate(snapshot, result) == []
    chosen = result.assignments[1]
    assert chosen.radiologist_id == 2
    assert "reads MR studies faster (60% of their usual time" in chosen.reason
    # The projection uses the learned time: 30 x 0.6 = 18 minutes.
    assert chosen.projected_finish - chosen.projected_start == timedelta(minutes=18)


def test_without_learned_paces_a_plan_is_what_it_was(
    make_study: MakeStudy, make_reader: MakeReader, now: datetime
) -> None:
    studies = tuple(
        make_study(i, procedure_group="CT" if i % 2 else "MR", read_minutes=5.0 + i)
        for i in range(1, 30)
    )
    plain = (make_reader(1), make_reader(2, wrvu_per_hour=6.0))
    unpaced = (make_reader(1, paces={}), make_reader(2, wrvu_per_hour=6.0, paces={"CT": 1.0}))
    a = plan(Snapshot(now=now, studies=studies, radiologists=plain), Params())
    b = plan(Snapshot(now=now, studies=studies, radiologists=unpaced), Params())
    assert {k: (v.radiologist_id, v.position) for k, v in a.assignments.items()} == {
        k: (v.radiologist_id, v.position) for k, v in b.assignments.items()
    }
    assert a.objective == b.objective
    assert all("faster" not in v.reason for v in b.assignments.values())


def test_an_opened_read_is_projected_at_the_readers_learned_pace(
    make_study: MakeStudy, make_reader: MakeReader, now: datetime
) -> None:
    opened = make_study(1, procedure_group="MR", read_minutes=30.0, opened_by=1, opened_at=now)
    waiting = make_study(2, procedure_group="CT", read_minutes=10.0)
    snapshot = Snapshot(
        now=now, studies=(opened, waiting), radiologists=(make_reader(1, paces={"MR": 0.5}),)
    )
    result = plan(snapshot, Params())
    # 30 x 0.5 = 15 minutes left on the opened MR, then the CT study.
    assert result.assignments[2].projected_start == now + timedelta(minutes=15)


def test_routine_work_goes_to_the_reader_who_reads_its_group_fast_when_nothing_else_decides(
    make_study: MakeStudy, make_reader: MakeReader, now: datetime
) -> None:
    # Due in a day: lateness is indifferent; only the pace term tells the readers apart.
    studies = tuple(make_study(i, procedure_group="MR", read_minutes=20.0) for i in (1, 2))
    readers = (make_reader(1, paces={"MR": 1.3}), make_reader(2, paces={"MR": 0.7}))
    snapshot = Snapshot(now=now, studies=studies, radiologists=readers)
    result = plan(snapshot, Params())
    assert validate(snapshot, result) == []
    assert {a.radiologist_id for a in result.assignments.values()} == {2}
    # The price: 4 per minute beyond the fastest factor; on reader 2 there is none.
    assert result.objective["pace"] == 0.0
