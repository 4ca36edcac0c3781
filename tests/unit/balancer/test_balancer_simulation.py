"""The simulator: a seed always replays the same day, and every policy reads every study."""

from __future__ import annotations

import math

import pytest

from balancer import Params
from balancer.simulation.engine import simulate
from balancer.simulation.metrics import summarise
from balancer.simulation.policies import POLICIES
from balancer.simulation.scenario import build

PARAMS = Params(time_limit_s=30.0, cold_time_limit_s=60.0)


def small(seed: int):  # type: ignore[no-untyped-def]
    return build(seed, studies=250, readers=12)


def test_a_scenario_is_the_same_for_the_same_seed_and_differs_for_another() -> None:
    a, b, c = small(5), small(5), small(6)
    assert a.studies == b.studies and a.noise == b.noise and a.roster == b.roster
    assert a.studies != c.studies


def test_capacity_is_scaled_to_the_asked_ratio_of_demand() -> None:
    scn = small(5)
    demand = sum(s.read_minutes for s in scn.studies)
    capacity = sum(r.on_duty_minutes(24 * 60.0) * r.reader.wrvu_per_hour / 8.0 for r in scn.roster)
    assert capacity / demand == pytest.approx(1.1)


@pytest.mark.parametrize("policy", POLICIES)
def test_every_policy_reads_every_study_once_with_an_eligible_reader(policy: str) -> None:
    scn = small(5)
    run = simulate(scn, policy, params=PARAMS)
    assert run.ineligible == 0 and run.violations == 0
    for k, study in enumerate(scn.studies):
        coverable = any(
            study.subspecialty in r.reader.subspecialties
            and study.site_id in r.reader.site_privileges
            for r in scn.roster
        )
        assert (run.reader[k] >= 0) == coverable
        if not coverable:
            continue
        assert run.start[k] >= scn.ready_min[k]
        assert run.finish[k] > run.start[k]
        reader = scn.roster[run.reader[k]].reader
        assert study.subspecialty in reader.subspecialties


def test_the_radflow_run_is_deterministic_per_seed() -> None:
    scn = small(5)
    first = simulate(scn, "radflow", params=PARAMS)
    second = simulate(small(5), "radflow", params=PARAMS)
    assert first.reader == second.reader
    assert first.finish == second.finish
    assert summarise(scn, first) == summarise(scn, second)
    assert not any(math.isnan(x) for x in first.finish)
