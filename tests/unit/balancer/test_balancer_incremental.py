"""The snapshot compiled incrementally and the kept planner: exactly what a fresh compile and a
fresh `plan` give, event after event."""

from __future__ import annotations

import dataclasses
import random
from datetime import timedelta

import numpy as np

from balancer import Params, Plan, Snapshot, plan, validate
from balancer.assignments import PlannedAssignments, placements
from balancer.compiler import Compiler
from balancer.planner import Planner
from balancer.problem import Problem, compile_problem
from balancer.simulation.department import bench_snapshot, make_study
from domain.enums import Priority, RadiologistStatus


def assert_same_problem(kept: Problem, fresh: Problem) -> None:
    """Every field of the two problems equal (arrays element for element, dtype too)."""
    for field in dataclasses.fields(Problem):
        a, b = getattr(kept, field.name), getattr(fresh, field.name)
        if isinstance(a, np.ndarray):
            assert a.dtype == b.dtype and a.shape == b.shape, field.name
            assert np.array_equal(a, b, equal_nan=True), field.name
        elif field.name == "eligible":
            assert len(a) == len(b)
            assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
        elif field.name == "term_data":
            assert a.keys() == b.keys()
            assert all(np.array_equal(a[k], b[k]) for k in a), field.name
        else:
            assert a == b, field.name


def carried(snapshot: Snapshot, result: Plan) -> Snapshot:
    """The next snapshot a minute later: the plan's readers are the studies' readers."""
    where = {sid: rid for sid, rid, _ in placements(result.assignments)}
    studies = tuple(dataclasses.replace(s, assigned_to=where.get(s.id)) for s in snapshot.studies)
    return dataclasses.replace(snapshot, studies=studies, now=snapshot.now + timedelta(minutes=1))


def events(seed: int, snapshot: Snapshot, result: Plan, step: int) -> Snapshot:
    """One event of each kind in turn: a study arrives (a STAT of the capped group every third
    time), a read is signed and its reader opens the next, a reader leaves, a study is pinned,
    a rule limits a study's readers, a study goes."""
    rng = random.Random(seed * 100 + step)
    snap = carried(snapshot, result)
    studies = list(snap.studies)
    waiting = [i for i, s in enumerate(studies) if s.opened_by is None and s.pinned_to is None]
    available = [r for r in snap.radiologists if r.status is RadiologistStatus.AVAILABLE]
    kind = step % 6
    if kind == 0:
        study, _ = make_study(rng, 900_000 + step, snap.now)
        if step % 3 == 0:
            study = dataclasses.replace(study, priority=Priority.STAT, cap_group="STAT")
        studies.append(study)
    elif kind == 1:
        j = next(i for i, s in enumerate(studies) if s.opened_by is not None)
        rid = studies[j].opened_by
        del studies[j]
        nxt = [a for a in result.worklist(rid or 0) if a.study_id != snap.studies[j].id]
        for i, s in enumerate(studies):
            if nxt and s.id == nxt[-1].study_id and s.opened_by is None:
                studies[i] = dataclasses.replace(s, opened_by=rid, opened_at=snap.now)
    elif kind == 2:
        gone = rng.choice(available).id
        roster = tuple(
            dataclasses.replace(r, status=RadiologistStatus.OFF) if r.id == gone else r
            for r in snap.radiologists
        )
        snap = dataclasses.replace(snap, radiologists=roster)
    elif kind == 3:
        i = rng.choice(waiting)
        studies[i] = dataclasses.replace(studies[i], pinned_to=rng.choice(available).id)
    elif kind == 4:
        i = rng.choice(waiting)
        keep = frozenset(r.id for r in available[: len(available) // 2])
        studies[i] = dataclasses.replace(studies[i], allowed_radiologists=keep)
    else:
        del studies[rng.choice(waiting)]
    return dataclasses.replace(snap, studies=tuple(studies))


def test_a_compiler_kept_across_events_compiles_exactly_what_a_fresh_one_does() -> None:
    params = Params()
    snap = dataclasses.replace(bench_snapshot(3, 600, 20), cap_bends={"STAT": 60.0})
    compiler = Compiler()
    result = plan(snap, params)
    reread = []
    for step in range(18):
        kept = compiler.compile(snap, params)
        assert_same_problem(kept, compile_problem(snap, params))
        reread.append(compiler.reread)
        snap = events(3, snap, result, step)
        result = plan(snap, params)
    assert reread[0] == 600  # the first snapshot is read whole
    # After that only the studies an event and the plan before it changed are read again.
    assert max(reread[2:]) < 100


def test_a_kept_planner_plans_exactly_what_a_fresh_plan_does() -> None:
    # Limits long enough for every search to end by itself: the plans depend on nothing else.
    params = Params(time_limit_s=60.0, cold_time_limit_s=60.0, large_event_time_limit_s=60.0)
    snap = bench_snapshot(5, 300, 12)
    planner = Planner()
    for step in range(8):
        kept, fresh = planner.plan(snap, params), plan(snap, params)
        assert validate(snap, kept) == []
        assert dict(kept.assignments) == dict(fresh.assignments)
        assert kept.unassignable == fresh.unassignable
        assert kept.objective == fresh.objective
        snap = events(5, snap, kept, step)


def test_a_plans_assignments_are_made_when_read_and_its_placements_need_no_reason() -> None:
    snap = bench_snapshot(7, 200, 10)
    result = plan(snap, Params())
    items = result.assignments
    assert isinstance(items, PlannedAssignments)
    listed = list(placements(items))
    assert len(listed) == len(items) == len(set(items))
    for sid, rid, position in listed:
        a = items[sid]
        assert (a.study_id, a.radiologist_id, a.position) == (sid, rid, position)
        assert a.reason
    # A worklist's positions run 0, 1, 2, ... with the opened studies first.
    by_reader: dict[int, list[int]] = {}
    for _, rid, position in listed:
        by_reader.setdefault(rid, []).append(position)
    assert all(sorted(p) == list(range(len(p))) for p in by_reader.values())
    assert 10**9 not in items


def test_the_runner_explains_only_the_studies_a_plan_moves() -> None:
    from application.planning.runner import DepartmentState, changes

    snap = bench_snapshot(9, 200, 10)
    first = plan(snap, Params())
    after = carried(snap, first)
    # Two studies were held by someone else when the snapshot was read: they move back.
    where = {sid: rid for sid, rid, _ in placements(first.assignments)}
    holders: dict[int, int | None] = {s.id: where.get(s.id) for s in after.studies}
    movers = [sid for sid, rid in where.items() if rid is not None][:2]
    for sid in movers:
        holders[sid] = -1
    state = DepartmentState(snapshot=after, holders=holders)
    planned, _ = changes(state, plan(after, Params()))
    explained = {p.exam_id for p in planned if p.reason}
    assert explained == {p.exam_id for p in planned if p.radiologist_id != holders[p.exam_id]}
    assert set(movers) <= explained
    assert len(explained) < len(planned) // 10
