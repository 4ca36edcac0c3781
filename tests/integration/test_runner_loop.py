"""The runner solves off the event loop: requests keep being served during a long solve."""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Iterator

import pytest

import application.planning.runner as live
from api.app import freeze_startup_heap
from application.planning.runner import BalancerRunner, DepartmentState
from balancer.model import Params
from balancer.simulation.department import bench_snapshot
from domain.db import Database


@pytest.fixture
def served_heap() -> Iterator[None]:
    """The heap as `radflow serve` keeps it: what was built before is frozen (see
    `api.app.freeze_startup_heap`). Without this, a full collection of everything the suite
    has built so far (0.8 s for three million small records, measured here) can fall inside the
    solve and stop every thread, which says nothing about the solver."""
    freeze_startup_heap()
    yield
    gc.unfreeze()


@pytest.mark.usefixtures("served_heap")
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_the_event_loop_stays_responsive_during_a_long_solve(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    snapshot = bench_snapshot(seed=3, n_studies=1500, n_readers=50)
    monkeypatch.setattr(
        live, "read_state", lambda session, now: DepartmentState(snapshot, holders={})
    )
    runner = BalancerRunner(db, params=lambda: Params(mode="improve", improve_time_limit_s=1.0))
    lags: list[float] = []
    solving = True

    async def heartbeat() -> None:
        while solving:
            before = time.perf_counter()
            await asyncio.sleep(0.01)
            lags.append(time.perf_counter() - before - 0.01)

    beat = asyncio.create_task(heartbeat())
    started = time.perf_counter()
    report = await runner.run_once("long solve")
    solve_seconds = time.perf_counter() - started
    solving = False
    await beat
    await runner.stop()
    assert "cpsat" in report.plan.formulation or solve_seconds > 1.0
    assert len(lags) > 20, "the loop barely ran while the solver worked"
    # Measured relative to the solve itself (the machine is noisy): the loop never stalls
    # for more than a small fraction of it.
    assert max(lags) < 0.1 * solve_seconds, (max(lags), solve_seconds)
