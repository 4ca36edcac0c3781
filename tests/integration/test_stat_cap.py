"""The demo department's default rules: its one-STAT cap bends for STAT, so none of the demo's
STATs is left off every worklist by the cap (held instead, the same cap leaves STATs out, as
the demo showed before); a STAT nobody on shift may read is raised to the supervisors."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import col

from application.planning.rule_effects import adjust_state, install_defaults
from application.planning.runner import BalancerRunner, DepartmentState
from balancer import Params, plan
from domain.db import Database
from domain.enums import NotificationTemplate, Priority, Role
from domain.lifecycle import Actor
from domain.models import Notification, OutboxEvent
from rules.defaults import DEFAULT_RULE_SET, STAT_OVER_CAP_PRICE
from rules.model import CapPerRadiologist
from tests.factories import seeded_demo


def test_the_default_rule_sets_stat_cap_bends_at_its_price() -> None:
    caps = [
        a for r in DEFAULT_RULE_SET.rules for a in r.actions if isinstance(a, CapPerRadiologist)
    ]
    assert caps == [CapPerRadiologist(1, stat_over_price=STAT_OVER_CAP_PRICE)]


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_the_demos_stats_are_all_on_a_worklist(db: Database, tmp_path: Path) -> None:
    demo = Database(await seeded_demo(tmp_path / "demo.db"))
    try:
        # What `radflow seed` does after the exams: the default rule set, active.
        await demo.run(lambda uow: install_defaults(uow, Actor("seed", Role.ADMIN)))
        seen: list[DepartmentState] = []

        def adjust(session: sa.orm.Session, now: object, state: DepartmentState, params: Params):  # type: ignore[no-untyped-def]
            state, params = adjust_state(session, now, state, params)  # type: ignore[arg-type]
            seen.append(state)
            return state, params

        report = await BalancerRunner(demo, adjust=adjust).run_once("test")
        snap = seen[-1].snapshot
        stats = {s.id for s in snap.studies if s.priority is Priority.STAT and s.opened_by is None}
        assert stats, "the demo has STATs waiting"
        out = report.plan.unassignable
        # None is left out by the cap; the ones left out have nobody on shift who may read them.
        assert stats - set(out) <= set(report.plan.assignments)
        assert all("at the cap" not in out[k] for k in stats & set(out))
        assert report.plan.objective["over_cap"] > 0  # the cap bent for some

        # The same department with the cap held for STAT: STATs on nobody's worklist.
        held = plan(dataclasses.replace(snap, cap_bends={}), Params()).unassignable
        assert any("at the cap" in held[k] for k in stats & set(held))

        # Each STAT left out (by the roster) was raised once, to the supervisors' line.
        def raised(s: sa.orm.Session) -> tuple[list[int], list[int]]:
            events = s.scalars(
                sa.select(OutboxEvent).where(col(OutboxEvent.type) == "StatUnassigned")
            ).all()
            calls = s.scalars(
                sa.select(Notification).where(
                    col(Notification.template) == NotificationTemplate.STAT_UNASSIGNED
                )
            ).all()
            return sorted(int(e.payload["exam_id"]) for e in events), sorted(
                int(c.exam_id or 0) for c in calls
            )

        left = sorted(stats & set(out))
        assert await demo.read(raised) == (left, left)
    finally:
        await demo.dispose()
