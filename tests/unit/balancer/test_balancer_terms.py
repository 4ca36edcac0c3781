"""Each objective term: the plan it prefers, and the price it puts on the plan it does not."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from balancer import Params, Plan, Radiologist, Snapshot, Study, Weights, plan, validate
from balancer.objective import evaluate
from balancer.problem import compile_problem
from balancer.simulation.department import bench_snapshot
from balancer.state import State
from domain.enums import Priority

NOW = datetime(2025, 3, 3, 12, 0, tzinfo=UTC)  # the builders' clock (conftest)
MakeStudy = Callable[..., Study]
MakeReader = Callable[..., Radiologist]


def only(**weights: float) -> Params:
    """Params with every term off except the ones named (fairness at its full weight)."""
    zero = dict.fromkeys(("lateness", "urgency", "age", "balance", "stability", "fairness"), 0.0)
    return Params(weights=Weights(**{**zero, **weights}), fairness_floor=1.0)


def planned(snapshot: Snapshot, params: Params) -> Plan:
    result = plan(snapshot, params)
    assert validate(snapshot, result) == []
    return result


def reader_of(result: Plan, study_id: int) -> int:
    return result.assignments[study_id].radiologist_id


def terms_for(snapshot: Snapshot, params: Params, readers: dict[int, int]) -> dict[str, float]:
    """The objective of a hand-made assignment {study id: reader id}."""
    problem = compile_problem(snapshot, params)
    assign = np.array(
        [problem.reader_index[readers[s.id]] for s in problem.studies], dtype=np.int64
    )
    return evaluate(problem, assign)


# -- lateness ---------------------------------------------------------------------------------
def test_lateness_sends_a_stat_to_the_reader_who_can_start_it_now(
    make_study: MakeStudy, make_reader: MakeReader
) -> None:
    busy = make_study(1, read_minutes=40.0, opened_by=1, opened_at=NOW)
    stat = make_study(2, priority=Priority.STAT, due_at=NOW + timedelta(minutes=20))
    snap = Snapshot(NOW, (busy, stat), (make_reader(1), make_reader(2)))
    assert reader_of(planned(snap, only(lateness=1.0)), 2) == 2
    late = terms_for(snap, only(lateness=1.0), {2: 1})
    on_time = terms_for(snap, only(lateness=1.0), {2: 2})
    # On reader 1 it finishes at 40 + 10 = 50 min, 30 min late, weighted x10 for STAT.
    assert late["lateness"] == pytest.approx(300.0)
    assert on_time["lateness"] == 0.0


def test_lateness_weighs_priority(make_study: MakeStudy, make_reader: MakeReader) -> None:
    due = NOW - timedelta(minutes=5)
    routine = make_study(1, due_at=due)
    stat = make_study(2, priority=Priority.STAT, due_at=due)
    snap = Snapshot(NOW, (routine, stat), (make_reader(1),))
    terms = terms_for(snap, only(lateness=1.0), {1: 1, 2: 1})
    # STAT first: finishes at 10 (15 late x10), routine at 20 (25 late x1).
    assert terms["lateness"] == pytest.approx(150.0 + 25.0)


def test_a_faster_reader_projects_earlier_finishes(
    make_study: MakeStudy, make_reader: MakeReader
) -> None:
    study = make_study(1, due_at=NOW)
    fast = Snapshot(NOW, (study,), (make_reader(1, wrvu_per_hour=16.0),))
    slow = Snapshot(NOW, (study,), (make_reader(1, wrvu_per_hour=4.0),))
    assert terms_for(fast, only(lateness=1.0), {1: 1})["lateness"] == pytest.approx(5.0)
    assert terms_for(slow, only(lateness=1.0), {1: 1})["lateness"] == pytest.approx(20.0)


# -- age --------------------------------------------------------------------------------------
def test_age_prices_waiting_beyond_the_limit_whatever_the_priority(
    make_study: MakeStudy, make_reader: MakeReader
) -> None:
    old = make_study(1, ready_at=NOW - timedelta(minutes=175))  # limit 180 reached at +5
    snap = Snapshot(NOW, (old,), (make_reader(1),))
    assert terms_for(snap, only(age=2.0), {1: 1})["age"] == pytest.approx(2.0 * 5.0)
    fresh = Snapshot(NOW, (make_study(1),), (make_reader(1),))
    assert terms_for(fresh, only(age=2.0), {1: 1})["age"] == 0.0


def test_age_spreads_old_work_so_none_waits_far_past_the_limit(
    make_study: MakeStudy, make_reader: MakeReader
) -> None:
    old = tuple(make_study(i, ready_at=NOW - timedelta(minutes=355)) for i in range(1, 5))
    snap = Snapshot(NOW, old, (make_reader(1), make_reader(2)))
    result = planned(snap, only(age=1.0))
    assert sorted(len(result.worklist(r)) for r in (1, 2)) == [2, 2]


# -- balance ----------------------------------------------------------------------------------
def test_balance_splits_work_in_proportion_to_remaining_shift(
    make_study: MakeStudy, make_reader: MakeReader
) -> None:
    studies = tuple(make_study(i) for i in range(1, 31))
    long_shift = make_reader(1, shift_end=NOW + timedelta(hours=8))
    short_shift = make_reader(2, shift_end=NOW + timedelta(hours=4))
    result = planned(Snapshot(NOW, studies, (long_shift, short_shift)), only(balance=1.0))
    assert (len(result.worklist(1)), len(result.worklist(2))) == (20, 10)


def test_balance_prices_an_uneven_split(make_study: MakeStudy, make_reader: MakeReader) -> None:
    studies = tuple(make_study(i) for i in range(1, 5))
    snap = Snapshot(NOW, studies, (make_reader(1), make_reader(2)))
    even = terms_for(snap, only(balance=1.0), {1: 1, 2: 1, 3: 2, 4: 2})
    lopsided = terms_for(snap, only(balance=1.0), {1: 1, 2: 1, 3: 1, 4: 1})
    assert even["balance"] == pytest.approx(0.0)
    # Loads 40 and 0 against 480 minutes left each: 40^2/480 - 40^2/960.
    assert lopsided["balance"] == pytest.approx(40 * 40 / 480 - 40 * 40 / 960)


# -- fairness ---------------------------------------------------------------------------------
def test_fairness_gives_each_reader_a_mix_not_all_easy_or_all_hard(
    make_study: MakeStudy, make_reader: MakeReader
) -> None:
    # Same read time, very different wRVU: two lucrative, two not. Twenty minutes each, so
    # either split fills both readers past the idle horizon (idle capacity is charged too).
    rich = tuple(make_study(i, wrvu=2.0, read_minutes=20.0) for i in (1, 2))
    poor = tuple(make_study(i, wrvu=0.2, read_minutes=20.0) for i in (3, 4))
    snap = Snapshot(NOW, (*rich, *poor), (make_reader(1), make_reader(2)))
    result = planned(snap, only(fairness=1.0, balance=1.0))
    for r in (1, 2):
        assert {reader_of(result, 1), reader_of(result, 2)} == {1, 2}
        assert {reader_of(result, 3), reader_of(result, 4)} == {1, 2}
        assert len(result.worklist(r)) == 2
    cherry = terms_for(snap, only(fairness=1.0), {1: 1, 2: 1, 3: 2, 4: 2})
    mixed = terms_for(snap, only(fairness=1.0), {1: 1, 3: 1, 2: 2, 4: 2})
    assert mixed["fairness"] == pytest.approx(0.0)
    assert cherry["fairness"] == pytest.approx(3.6)  # each reader 1.8 wRVU off the density


# -- stability --------------------------------------------------------------------------------
def test_stability_keeps_a_study_where_it_is_unless_the_gain_pays_for_the_move(
    make_study: MakeStudy, make_reader: MakeReader
) -> None:
    # Six studies already on reader 1, reader 2 idle: balance wants three to move.
    studies = tuple(make_study(i, assigned_to=1) for i in range(1, 7))
    snap = Snapshot(NOW, studies, (make_reader(1), make_reader(2)))
    sticky = planned(snap, only(balance=1.0, stability=100.0))
    assert sticky.moved() == frozenset()
    loose = planned(snap, only(balance=1.0, stability=0.01))
    assert len(loose.moved()) == 3
    assert loose.objective["stability"] == pytest.approx(0.03)


def test_a_study_whose_reader_left_moves_without_a_stability_price(
    make_study: MakeStudy, make_reader: MakeReader
) -> None:
    snap = Snapshot(NOW, (make_study(1, assigned_to=9),), (make_reader(1),))
    result = planned(snap, only(stability=100.0))
    assert reader_of(result, 1) == 1
    assert result.objective["stability"] == 0.0


# -- the search state agrees with the from-scratch objective ----------------------------------
@pytest.mark.parametrize("short", [0, 8, 10**6], ids=["numpy", "mixed", "loop"])
def test_incremental_costs_match_the_objective_after_random_moves(
    short: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    from balancer import state as state_module

    monkeypatch.setattr(state_module, "_SHORT", short)
    problem = compile_problem(bench_snapshot(3, 300, 15), Params())
    state = State(problem)
    from balancer import construct

    construct.sweep(state, construct.keep_current(state))
    rng = np.random.default_rng(0)
    for _ in range(200):
        k = int(rng.integers(problem.n))
        if state.assign[k] < 0 or not state.movable(k):
            continue
        b = int(rng.choice(problem.eligible[k]))
        if b == state.assign[k] or not state.allowed(k, b):
            continue
        before = evaluate(problem, state.assign)["total"]
        predicted = state.move_delta(k, b)
        state.move(k, b)
        after = evaluate(problem, state.assign)["total"]
        assert after - before == pytest.approx(predicted, rel=1e-6, abs=1e-6)
    terms = evaluate(problem, state.assign)
    assert float(state.seq.sum()) == pytest.approx(
        terms["lateness"] + terms["age"] + terms["urgency"]
    )


# -- urgency ----------------------------------------------------------------------------------
def test_urgency_starts_a_stat_now_even_when_both_readers_would_meet_its_deadline(
    make_study: MakeStudy, make_reader: MakeReader
) -> None:
    busy = make_study(1, read_minutes=10.0, opened_by=1, opened_at=NOW)
    stat = make_study(2, priority=Priority.STAT, due_at=NOW + timedelta(minutes=60))
    snap = Snapshot(NOW, (busy, stat), (make_reader(1), make_reader(2)))
    on_busy = terms_for(snap, only(urgency=1.0, lateness=1.0), {2: 1})
    on_idle = terms_for(snap, only(urgency=1.0, lateness=1.0), {2: 2})
    assert on_busy["lateness"] == on_idle["lateness"] == 0.0
    # STAT urgency 10 per minute: finishing at 20 instead of 10 costs 100 more.
    assert on_busy["urgency"] - on_idle["urgency"] == pytest.approx(100.0)
    assert reader_of(planned(snap, only(urgency=1.0)), 2) == 2


def test_routine_work_waiting_costs_a_little_so_it_goes_to_the_reader_who_reads_it_first(
    make_study: MakeStudy, make_reader: MakeReader
) -> None:
    # Reader 2 is busy for 30 minutes, reader 1 free. Far from its due time and age limit, a
    # routine study cost nothing wherever it waited, so fairness, balance and idle alone chose
    # its reader; 0.03 per minute (Params.urgency_per_minute) makes the sooner reader cheaper.
    busy = make_study(9, read_minutes=30.0, opened_by=2, opened_at=NOW)
    new = make_study(1, ready_at=NOW)
    snap = Snapshot(NOW, (busy, new), (make_reader(1), make_reader(2)))
    params = only(urgency=1.0)
    assert params.urgency_per_minute[Priority.ROUTINE] == 0.03
    later = terms_for(snap, params, {1: 2})["urgency"] - terms_for(snap, params, {1: 1})["urgency"]
    assert later == pytest.approx(0.03 * 30.0)
    assert reader_of(planned(snap, params), 1) == 1
    flat = replace(params, urgency_per_minute={Priority.STAT: 10.0, Priority.URGENT: 0.2})
    assert terms_for(snap, flat, {1: 2})["urgency"] == terms_for(snap, flat, {1: 1})["urgency"]


def test_an_idle_reader_takes_routine_work_from_a_peers_queue(
    make_study: MakeStudy, make_reader: MakeReader
) -> None:
    # Six far-due routine studies all on reader 1; reader 2 has nothing: against a long shift
    # the balance term barely notices, the idle term makes reader 2 take some.
    studies = tuple(make_study(i, assigned_to=1) for i in range(1, 7))
    snap = Snapshot(NOW, studies, (make_reader(1), make_reader(2)))
    result = plan(snap, Params())
    assert validate(snap, result) == []
    assert result.worklist(2)
    # Fairness charges idle capacity too (terms/fairness.py); with both off nothing moves.
    lazy = plan(snap, Params(weights=Weights(idle=0.0, fairness=0.0)))
    assert not lazy.worklist(2)


def test_idle_counts_reference_minutes_so_work_may_go_to_an_idle_fast_reader(
    make_study: MakeStudy, make_reader: MakeReader
) -> None:
    # A 10-minute study takes the slow reader (4 wRVU/h) 20 minutes, the fast one (16) 5. In
    # the readers' own minutes the slow one looked the better cure for idleness (20 > 5); in
    # reading capacity wasted both placements leave the same idle capacity.
    snap = Snapshot(
        NOW,
        (make_study(1),),
        (make_reader(1, wrvu_per_hour=4.0), make_reader(2, wrvu_per_hour=16.0)),
    )
    on_slow = terms_for(snap, only(idle=1.0), {1: 1})
    on_fast = terms_for(snap, only(idle=1.0), {1: 2})
    # Slow: 10 own minutes idle x 0.5 + fast: 30 x 2; fast: 25 x 2 + slow: 30 x 0.5.
    assert on_slow["idle"] == pytest.approx(65.0)
    assert on_fast["idle"] == pytest.approx(65.0)


def test_a_reader_with_nothing_to_read_is_offered_work_at_the_start_of_a_shift(
    make_study: MakeStudy, make_reader: MakeReader
) -> None:
    from balancer.improve import underloaded

    # Ten hours left each: utilisations 0, 0.03 and 0.1 sit within 0.05 of the mean (0.044),
    # yet the first two readers run dry within the idle horizon.
    fresh = {"shift_start": NOW, "shift_end": NOW + timedelta(hours=10)}
    readers = tuple(make_reader(r, **fresh) for r in (1, 2, 3))
    studies = (
        make_study(1, read_minutes=20.0, assigned_to=2),
        *(make_study(i, read_minutes=10.0, assigned_to=3) for i in range(2, 8)),
    )
    problem = compile_problem(Snapshot(NOW, studies, readers), Params())
    state = State(problem)
    construct_keep(state)
    assert underloaded(state) == [0, 1]
    assert underloaded(state, 1) == [0]


def construct_keep(state: State) -> None:
    from balancer import construct

    assert construct.keep_current(state) == []


# -- the shift's wRVU ---------------------------------------------------------------------------
def test_shift_credit_is_wrvu_read_above_the_departments_pace_and_sums_to_zero(
    make_reader: MakeReader,
) -> None:
    from balancer.problem import shift_credit, shift_pace

    # Both on duty 4 hours at 8 wRVU/h (32 wRVU of capacity each); 30 and 18 wRVU read.
    ahead = make_reader(1, wrvu_read=30.0, minutes_on_duty=240.0)
    behind = make_reader(2, wrvu_read=18.0, minutes_on_duty=240.0)
    pace = shift_pace([ahead, behind])
    assert pace == pytest.approx(48.0 / 64.0)
    credit = shift_credit([ahead, behind], pace)
    assert credit.tolist() == pytest.approx([6.0, -6.0])
    # A reader who just started has no credit either way; no pace yet: no credit at all.
    fresh = make_reader(3)
    assert shift_credit([ahead, behind, fresh], shift_pace([ahead, behind, fresh]))[2] == 0.0
    assert shift_pace([fresh]) is None


def test_a_reader_ahead_on_the_shifts_wrvu_gets_the_lower_density_work(
    make_study: MakeStudy, make_reader: MakeReader
) -> None:
    # Both readers have an hour of work open (at the department's pace: 6 wRVU in 60 min), so
    # the pace is charged per minute held. Same read time, different wRVU: the reader who is
    # ahead takes the poorer study and the one behind the richer.
    rich, poor = make_study(1, wrvu=2.0), make_study(2, wrvu=0.5)

    def open_hour(sid: int, rid: int) -> Study:
        return make_study(sid, wrvu=6.0, read_minutes=60.0, opened_by=rid, opened_at=NOW)

    ahead = make_reader(1, wrvu_read=30.0, minutes_on_duty=240.0)
    behind = make_reader(2, wrvu_read=18.0, minutes_on_duty=240.0)
    studies = (rich, poor, open_hour(3, 1), open_hour(4, 2))
    result = planned(Snapshot(NOW, studies, (ahead, behind)), only(fairness=1.0, balance=1.0))
    assert (reader_of(result, 1), reader_of(result, 2)) == (2, 1)
    # Excess: ahead 6 + (0.5 - 1.0), behind -6 + (2.0 - 1.0); the other way round 7 and -6.5.
    assert result.objective["fairness"] == pytest.approx(10.5)
    ids_swapped = (replace(ahead, id=2), replace(behind, id=1))
    swapped = planned(Snapshot(NOW, studies[:2], ids_swapped), only(fairness=1.0, balance=1.0))
    assert reader_of(swapped, 1) == reader_of(swapped, 2) == 1  # with room, the one behind


def test_with_idle_capacity_to_spare_the_reader_behind_gets_the_work(
    make_study: MakeStudy, make_reader: MakeReader
) -> None:
    # One study, two idle readers: the one ahead is listed first (a tie would go to it).
    ahead = make_reader(1, wrvu_read=30.0, minutes_on_duty=240.0)
    behind = make_reader(2, wrvu_read=18.0, minutes_on_duty=240.0)
    snap = Snapshot(NOW, (make_study(1),), (ahead, behind))
    assert reader_of(planned(snap, Params()), 1) == 2
    even = Snapshot(NOW, (make_study(1),), (make_reader(1), make_reader(2)))
    assert reader_of(planned(even, Params()), 1) == 1


def test_incremental_costs_match_the_objective_with_shift_credits() -> None:
    from dataclasses import replace

    snap = bench_snapshot(5, 200, 12)
    rng = np.random.default_rng(1)
    readers = tuple(
        replace(r, wrvu_read=float(rng.uniform(0, 40)), minutes_on_duty=float(rng.uniform(0, 300)))
        for r in snap.radiologists
    )
    problem = compile_problem(replace(snap, radiologists=readers), Params())
    assert np.abs(problem.base_wrvu).sum() > 1.0
    state = State(problem)
    from balancer import construct

    construct.sweep(state, construct.keep_current(state))
    assert len(set(problem.fair_weight.tolist())) > 1  # readers at different points of a shift
    assert evaluate(problem, state.assign)["fairness"] == pytest.approx(
        float((problem.fair_weight * np.abs(state.excess())).sum())
    )
    for _ in range(100):
        k = int(rng.integers(problem.n))
        b = int(rng.choice(problem.eligible[k]))
        if state.assign[k] < 0 or b == state.assign[k] or not state.movable(k):
            continue
        if not state.allowed(k, b):
            continue
        before = evaluate(problem, state.assign)["total"]
        predicted = state.move_delta(k, b)
        state.move(k, b)
        assert evaluate(problem, state.assign)["total"] - before == pytest.approx(
            predicted, rel=1e-6, abs=1e-6
        )


def test_the_fairness_weight_grows_over_the_shift_from_its_floor(make_reader: MakeReader) -> None:
    from balancer.problem import fairness_weight

    params = Params(weights=Weights(fairness=20.0), fairness_floor=0.3)
    starting = make_reader(1, shift_start=NOW, shift_end=NOW + timedelta(hours=10))
    halfway = make_reader(
        2, shift_start=NOW - timedelta(hours=5), shift_end=NOW + timedelta(hours=5)
    )
    ending = make_reader(3, shift_start=NOW - timedelta(hours=10), shift_end=NOW)
    unknown = make_reader(4, shift_start=None, shift_end=None)
    assert fairness_weight(starting, NOW, params) == pytest.approx(6.0)
    assert fairness_weight(halfway, NOW, params) == pytest.approx(13.0)
    assert fairness_weight(ending, NOW, params) == pytest.approx(20.0)
    assert fairness_weight(unknown, NOW, params) == pytest.approx(20.0)


@pytest.mark.parametrize("priority", [Priority.STAT, Priority.URGENT])
def test_fairness_never_decides_who_reads_urgent_work(
    make_study: MakeStudy, make_reader: MakeReader, priority: Priority
) -> None:
    # One reader well ahead on the shift's wRVU, one well behind, both with an hour of work
    # open. A dense routine study costs fairness on the one ahead; an urgent one of the same
    # wRVU counts at the department's pace, so it costs the same on either.
    ahead = make_reader(1, wrvu_read=30.0, minutes_on_duty=240.0)
    behind = make_reader(2, wrvu_read=18.0, minutes_on_duty=240.0)

    def open_hour(sid: int, rid: int) -> Study:
        return make_study(sid, wrvu=6.0, read_minutes=60.0, opened_by=rid, opened_at=NOW)

    for urgent, differs in ((False, True), (True, False)):
        dense = make_study(3, wrvu=4.0, priority=priority if urgent else Priority.ROUTINE)
        snap = Snapshot(NOW, (open_hour(1, 1), open_hour(2, 2), dense), (ahead, behind))
        on_ahead = terms_for(snap, only(fairness=1.0), {3: 1})["fairness"]
        on_behind = terms_for(snap, only(fairness=1.0), {3: 2})["fairness"]
        assert (on_ahead != pytest.approx(on_behind)) is differs, (urgent, on_ahead, on_behind)
