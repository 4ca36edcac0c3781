"""The planning of one process, wired: leadership, the runner and the rules' step in it.

What a transport's process starts and stops (the API's lifespan today; a worker process could
do the same): it does not need to know that the rules adjust each snapshot, or that on SQLite
the process always leads.
"""

from __future__ import annotations

from dataclasses import dataclass

from application.planning.leadership import Leadership, leadership_for
from application.planning.rule_effects import adjust_state
from application.planning.runner import BalancerRunner, SearchPolicy
from application.settings import Settings
from domain.db import Database


@dataclass(frozen=True, slots=True)
class Planning:
    """Leadership and the balancer's runner of this process; `enabled` runs the balancer here."""

    leadership: Leadership
    runner: BalancerRunner
    enabled: bool
    leads_always: bool  # SQLite: one process, which leads (for rebalanceNow too)

    async def start(self) -> None:
        if self.enabled or self.leads_always:
            await self.leadership.start()
        if self.enabled:
            self.runner.start()

    async def stop(self) -> None:
        await self.runner.stop()
        await self.leadership.stop()  # after the runner: a run in flight commits first

    def notice(self, event_id: int, event_type: str) -> None:
        """An event committed (here or on another replica) that may call for a re-plan."""
        if self.enabled:
            self.runner.notice(event_id, event_type)


def planning_for(db: Database, settings: Settings) -> Planning:
    leadership = leadership_for(
        db,
        replica=settings.replica_id,
        poll_seconds=settings.leader_poll_seconds,
        lease_seconds=settings.leader_lease_seconds,
    )
    runner = BalancerRunner(
        db,
        adjust=adjust_state,
        tick_seconds=settings.balancer_tick_seconds,
        leadership=leadership,
        release_grace=settings.release_grace,
        search=(
            SearchPolicy(seconds=settings.balancer_search_seconds)
            if settings.balancer_search_seconds > 0
            else None
        ),
    )
    return Planning(leadership, runner, settings.balancer_enabled, db.is_sqlite)
