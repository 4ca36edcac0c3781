"""The waiting bound is the department's choice, made by a rule: the demo's default rule set
holds it, so the live runner plans with it held and leaves no study past its age limit
overtaken; a rule set without that rule, activated, lets go of it at the next re-plan."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from application.planning.rule_effects import adjust_state, install_defaults, save
from application.planning.runner import BalancerRunner, DepartmentState
from balancer import Params
from balancer.waiting import overtaken
from domain.db import Database
from domain.enums import Role
from domain.lifecycle import Actor
from domain.services import rulesets
from rules.defaults import DEFAULT_RULE_SET
from rules.model import HoldWaitingBound, RuleSet
from rules.serialization import rule_set_to_data
from tests.factories import seeded_demo

ADMIN = Actor("seed", Role.ADMIN)


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_the_default_rules_hold_the_bound_and_a_rule_set_without_it_lets_go(
    db: Database, tmp_path: Path
) -> None:
    demo = Database(await seeded_demo(tmp_path / "demo.db"))
    try:
        await demo.run(lambda uow: install_defaults(uow, ADMIN))
        seen: list[tuple[DepartmentState, Params]] = []

        def adjust(session: sa.orm.Session, now: object, state: DepartmentState, params: Params):  # type: ignore[no-untyped-def]
            state, params = adjust_state(session, now, state, params)  # type: ignore[arg-type]
            seen.append((state, params))
            return state, params

        runner = BalancerRunner(demo, adjust=adjust)
        report = await runner.run_once("test")
        state, params = seen[-1]
        assert params.hold_overtake_bound and params.overtake_margin_minutes == 30.0
        assert report.plan.formulation.endswith("+waiting bound 30 min")  # balancerStatus
        aged = [
            s
            for s in state.snapshot.studies
            if s.opened_by is None
            and s.id in report.plan.assignments
            and report.plan.assignments[s.id].projected_start
            > s.ready_at + timedelta(minutes=params.age_limit(s.priority))
        ]
        assert aged, "the demo has work past its age limit"
        assert overtaken(state.snapshot, report.plan, params) == {}

        without = RuleSet(
            tuple(
                r
                for r in DEFAULT_RULE_SET.rules
                if not any(isinstance(a, HoldWaitingBound) for a in r.actions)
            )
        )

        def switch(uow):  # type: ignore[no-untyped-def]
            version, errors = save(
                uow=uow,
                actor=ADMIN,
                data=rule_set_to_data(without),
                reason="let go of the waiting bound",
                based_on=None,
            )
            assert errors == [] and version is not None
            rulesets.activate(uow=uow, actor=ADMIN, version=version, reason="test")

        await demo.run(switch)
        report = await runner.run_once("test")
        assert not seen[-1][1].hold_overtake_bound
        assert "waiting bound" not in report.plan.formulation
    finally:
        await demo.dispose()
