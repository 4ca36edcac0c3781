"""GraphQL types of worklists and the balancer's runs."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
import strawberry
from sqlalchemy.orm import Session
from sqlmodel import col

from api.context import Info
from api.enums import Priority
from api.exams.types import Exam
from application.planning.leadership import current_leader
from domain import models as m
from domain.access import scope_of, visible_exam_ids
from domain.enums import Role
from domain.services import stranded


@strawberry.type(description="One study on a worklist, in reading order.")
class WorklistItem:
    position: int | None = strawberry.field(description="0 = read next.")
    priority: Priority
    due_at: datetime | None
    reason: str = strawberry.field(description="Why this reader: eligible set, urgency, load.")
    pinned: bool
    opened: bool
    assigned_at: datetime
    exam: Exam


@strawberry.type(description="One term of the balancer's objective.")
class ObjectiveTerm:
    name: str
    value: float


@strawberry.type(
    description="A study nobody eligible can take now, and why. A run lists STAT ones first: "
    "each was raised to the supervisors (a StatUnassigned event and a STAT_UNASSIGNED call) "
    "when it was first left out."
)
class UnassignableStudy:
    reason: str
    priority: Priority | None = strawberry.field(
        description="Its priority after the rules, as the balancer saw it (null for runs "
        "recorded before it was kept)."
    )
    exam_id: strawberry.Private[int]

    @strawberry.field
    async def exam(self, info: Info) -> Exam | None:
        row = await info.context.loaders.by_id(m.Exam).load(self.exam_id)
        return None if row is None else Exam.from_model(row)


@strawberry.type(description="One committed re-plan.")
class BalancerRun:
    started_at: datetime
    duration_ms: float
    trigger: str = strawberry.field(description="The events that asked for it.")
    formulation: str
    objective: list[ObjectiveTerm]
    stuck: strawberry.Private[list[UnassignableStudy]]
    assigned: int
    moved: int = strawberry.field(description="Studies that changed reader in this run.")
    epoch: int | None = strawberry.field(
        description="The leadership epoch the plan was committed under (see "
        "`BalancerStatus.leader`); null for runs recorded before leadership."
    )
    leader: str | None = strawberry.field(description="The replica that committed it.")

    @classmethod
    def from_model(cls, row: m.BalancerRun) -> BalancerRun:
        return cls(
            started_at=row.started_at,
            duration_ms=row.duration_ms,
            trigger=row.trigger,
            formulation=row.formulation,
            objective=[
                ObjectiveTerm(name=k, value=float(v)) for k, v in sorted(row.objective.items())
            ],
            stuck=[
                UnassignableStudy(
                    reason=u["reason"],
                    priority=Priority(u["priority"]) if u.get("priority") else None,
                    exam_id=int(u["exam_id"]),
                )
                for u in row.unassignable
            ],
            assigned=row.assigned,
            moved=row.moved,
            epoch=row.epoch,
            leader=row.leader,
        )

    @strawberry.field(
        description="The studies it could not place, and why: those the caller "
        "may see (a radiologist, the ones they read)."
    )
    async def unassignable(self, info: Info) -> list[UnassignableStudy]:
        actor = info.context.actor
        if scope_of(actor).unbounded or not self.stuck:
            return self.stuck
        visible = await info.context.db.read(
            lambda s: visible_exam_ids(s, actor, [u.exam_id for u in self.stuck])
        )
        return [u for u in self.stuck if u.exam_id in visible]


@strawberry.type(
    description="The replica elected to run the balancer. Exactly one replica "
    "re-plans at a time; each election raises the epoch by one."
)
class BalancerLeader:
    replica: str = strawberry.field(description="Its name (RADFLOW_REPLICA_ID, default host:pid).")
    epoch: int = strawberry.field(
        description="The fencing token of its election: every plan "
        "it commits carries it, and a plan of an older "
        "epoch is refused."
    )
    elected_at: datetime


@strawberry.type(
    description="A study opened by a reader who is away (off shift, on a break, "
    "past the end of the shift): the balancer never moves it. STAT "
    "and URGENT ones are released by themselves after the grace "
    "(RADFLOW_RELEASE_GRACE); others wait for a supervisor's "
    "releaseRead."
)
class StrandedRead:
    radiologist_code: str
    priority: Priority
    opened_at: datetime
    absent: str = strawberry.field(description="off shift, on break, past the end of the shift.")
    absent_since: datetime
    release_due_at: datetime | None = strawberry.field(
        description="When it is released by itself (null: only by a supervisor)."
    )
    exam: Exam


@strawberry.type(
    description="The CP-SAT neighbourhood search the leader runs between events, as "
    "this replica's runner counts it since it started (ask the leader)."
)
class BalancerSearch:
    enabled: bool = strawberry.field(description="Whether this replica searches when it leads.")
    cycles: int = strawberry.field(description="Search cycles run (each a few seconds at most).")
    rounds: int = strawberry.field(
        description="Neighbourhoods solved: a few readers and their studies each."
    )
    improvements: int = strawberry.field(
        description="Cycles whose better plan was committed (diff, fencing, events)."
    )
    objective_won: float = strawberry.field(
        description="Objective the committed cycles won over the fast path's plan "
        "(minutes-equivalent, stability price included)."
    )
    yielded: int = strawberry.field(
        description="Cycles stopped by an event, which was then re-planned at once."
    )
    fenced: int = strawberry.field(description="Committed plans refused: a newer leader.")
    last_at: datetime | None


@strawberry.type(description="What the balancer did last, and which replica runs it.")
class BalancerStatus:
    last_run: BalancerRun | None
    recent_runs: list[BalancerRun] = strawberry.field(description="The last ten, newest first.")

    @strawberry.field(
        description="The last elected leader, as recorded. When a leader dies it "
        "is named here until another replica takes over (seconds)."
    )
    async def leader(self, info: Info) -> BalancerLeader | None:
        row = await info.context.db.read(current_leader, bounded=True)
        return (
            None
            if row is None
            else BalancerLeader(replica=row.replica, epoch=row.epoch, elected_at=row.elected_at)
        )

    @strawberry.field(
        description="Opened studies whose reader is away, oldest first (a "
        "radiologist sees their own)."
    )
    async def stranded_reads(self, info: Info) -> list[StrandedRead]:
        context = info.context
        now, grace = context.db.clock(), context.settings.release_grace or timedelta(0)
        actor = context.actor

        def query(session: Session) -> list[StrandedRead]:
            found = [
                s
                for s in stranded.stranded_reads(session, now, grace)
                if actor.role != Role.RADIOLOGIST or s.radiologist_code == actor.id
            ]
            exams = {
                e.id: e
                for e in session.scalars(
                    sa.select(m.Exam).where(col(m.Exam.id).in_([s.exam_id for s in found]))
                )
            }
            return [
                StrandedRead(
                    radiologist_code=s.radiologist_code,
                    priority=s.priority,
                    opened_at=s.opened_at,
                    absent=s.absent,
                    absent_since=s.absent_since,
                    release_due_at=(s.release_due_at if context.settings.release_grace else None),
                    exam=Exam.from_model(exams[s.exam_id]),
                )
                for s in found
            ]

        return await context.db.read(query)

    @strawberry.field(description="The name of the replica that answered this request.")
    def replica(self, info: Info) -> str | None:
        leadership = info.context.runner.leadership
        return None if leadership is None else leadership.replica

    @strawberry.field(description="Whether the replica that answered runs the balancer now.")
    def leading(self, info: Info) -> bool:
        return info.context.runner.leading

    @strawberry.field(description="The leader's search between events, on this replica.")
    def search(self, info: Info) -> BalancerSearch:
        runner = info.context.runner
        stats = runner.search_stats
        return BalancerSearch(
            enabled=runner.search is not None,
            cycles=stats.cycles,
            rounds=stats.rounds,
            improvements=stats.improvements,
            objective_won=round(stats.won, 3),
            yielded=stats.yielded,
            fenced=stats.fenced,
            last_at=stats.last_at,
        )
