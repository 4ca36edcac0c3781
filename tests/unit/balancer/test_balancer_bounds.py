"""The proven lower bounds: never above the best plan, found by trying every plan of small
departments, and close to it where most work is late."""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable
from datetime import datetime, timedelta

import numpy as np
import pytest

from balancer import Params, Radiologist, Snapshot, Study, plan
from balancer.assignments import as_array
from balancer.bounds import busy_time_bound, completion_rank_bound, finishes
from balancer.objective import evaluate
from balancer.problem import IntArray, Problem, compile_problem
from domain.enums import Priority, Subspecialty

GROUPS = ("CT", "MR", "XR")
MakeStudy = Callable[..., Study]
MakeReader = Callable[..., Radiologist]


def department(
    rng: random.Random, make_study: MakeStudy, make_reader: MakeReader, now: datetime, *, n: int
) -> Snapshot:
    """A small department of mixed work: some of it long overdue, readers of different speeds,
    subspecialties and learned paces (some faster than their speed), one busy with a read."""
    studies = []
    for i in range(1, n + 1):
        ready = now - timedelta(minutes=rng.uniform(0, 400))
        studies.append(
            make_study(
                i,
                subspecialty=rng.choice((Subspecialty.BODY, Subspecialty.NEURO)),
                priority=rng.choice(tuple(Priority)),
                procedure_group=rng.choice(GROUPS),
                read_minutes=rng.uniform(4, 40),
                ready_at=ready,
                due_at=ready + timedelta(minutes=rng.uniform(30, 600)),
            )
        )
    readers = [
        make_reader(
            r,
            subspecialties=frozenset(rng.sample((Subspecialty.BODY, Subspecialty.NEURO), k=1))
            | ({Subspecialty.BODY, Subspecialty.NEURO} if r == 1 else set()),
            wrvu_per_hour=rng.uniform(5, 11),
            paces={g: rng.uniform(0.6, 1.4) for g in GROUPS if rng.random() < 0.7},
        )
        for r in (1, 2, 3)
    ]
    opened = make_study(n + 1, read_minutes=25.0, opened_by=2, opened_at=now)
    return Snapshot(now=now, studies=(*studies, opened), radiologists=tuple(readers))


def every_plan(problem: Problem) -> list[IntArray]:
    """Every way of giving each study one of its eligible readers (the order on each worklist
    is the order rule's, so this is every plan)."""
    choices = [problem.eligible[k].tolist() for k in range(problem.n)]
    return [np.array(c, dtype=np.int64) for c in itertools.product(*choices)]


@pytest.mark.parametrize("seed", range(12))
def test_neither_bound_is_ever_above_the_best_plan_of_a_small_department(
    seed: int, make_study: MakeStudy, make_reader: MakeReader, now: datetime
) -> None:
    snapshot = department(random.Random(seed), make_study, make_reader, now, n=7)
    problem = compile_problem(snapshot, Params())
    plans = every_plan(problem)
    totals = [evaluate(problem, a)["total"] for a in plans]
    best = min(totals)
    some = plans[0]
    # Any plan's finishes are a valid point to linearise at: the best's, the worst's, another.
    for at in (
        plans[int(np.argmin(totals))],
        plans[int(np.argmax(totals))],
        plans[len(plans) // 2],
    ):
        assert busy_time_bound(problem, some, finishes(problem, at)) <= best + 1e-6
    assert completion_rank_bound(problem, some) <= best + 1e-6
    assert best > 0


def test_where_the_work_is_late_the_busy_time_bound_is_close_to_the_best_plan(
    make_study: MakeStudy, make_reader: MakeReader, now: datetime
) -> None:
    # Everything overdue: each study's cost is linear in its finish, where the bound is exact
    # but for splitting a study between readers and reading it in pieces.
    rng = random.Random(7)
    studies = tuple(
        make_study(
            i,
            read_minutes=rng.uniform(5, 30),
            priority=rng.choice(tuple(Priority)),
            ready_at=now - timedelta(hours=6),
            due_at=now - timedelta(hours=1),
        )
        for i in range(1, 9)
    )
    readers = (make_reader(1), make_reader(2, wrvu_per_hour=6.0))
    problem = compile_problem(Snapshot(now=now, studies=studies, radiologists=readers), Params())
    plans = every_plan(problem)
    totals = [evaluate(problem, a)["total"] for a in plans]
    best_plan = plans[int(np.argmin(totals))]
    bound = busy_time_bound(problem, best_plan, finishes(problem, best_plan))
    assert 0.9 * min(totals) <= bound <= min(totals) + 1e-6
    assert bound > completion_rank_bound(problem, best_plan)


def test_a_plan_and_its_bound_on_a_backlogged_department(
    make_study: MakeStudy, make_reader: MakeReader, now: datetime
) -> None:
    rng = random.Random(3)
    studies = tuple(
        make_study(
            i,
            read_minutes=rng.uniform(5, 25),
            ready_at=now - timedelta(minutes=rng.uniform(60, 600)),
            due_at=now - timedelta(minutes=rng.uniform(0, 60)),
        )
        for i in range(1, 121)
    )
    readers = tuple(make_reader(r, wrvu_per_hour=rng.uniform(6, 10)) for r in range(1, 7))
    snapshot = Snapshot(now=now, studies=studies, radiologists=readers)
    params = Params()
    result = plan(snapshot, params)
    problem = compile_problem(snapshot, params)
    assign = as_array(problem, result)
    total = evaluate(problem, assign)["total"]
    bound = busy_time_bound(problem, assign, finishes(problem, assign))
    assert 0.8 * total <= bound <= total
