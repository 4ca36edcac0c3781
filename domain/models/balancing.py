"""Reading shifts and the balancer's run log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Field

from domain.models._columns import document, ref, text, when
from domain.models._row import Row


class Shift(Row, table=True):
    """A radiologist's reading shift at a site: planned end, actual start and end."""

    __tablename__ = "shifts"

    id: int | None = Field(default=None, primary_key=True)
    radiologist_id: int = ref("radiologists")
    site_id: int = ref("sites")
    starts_at: datetime = when()
    ends_at: datetime = when()
    ended_at: datetime | None = when(nullable=True, index=True)


class BalancerRun(Row, table=True):
    """One committed re-plan: when, why, how long, the objective terms and what was left over.

    `unassignable` is a list of {"exam_id", "reason"}; `objective` maps term -> value.
    """

    __tablename__ = "balancer_runs"

    id: int | None = Field(default=None, primary_key=True)
    started_at: datetime = when(index=True)
    duration_ms: float
    trigger: str = text(200)
    formulation: str = text(64)
    objective: dict[str, Any] = document()
    unassignable: list[dict[str, Any]] = document()
    assigned: int
    moved: int
    # The leadership epoch (fencing token) the plan was committed under, and by which replica.
    epoch: int | None = Field(default=None, nullable=True)
    leader: str | None = text(200, nullable=True)


class BalancerLeadership(Row, table=True):
    """Which replica runs the balancer, under which epoch: one row, the lease and the fencing
    token.

    Each election (on PostgreSQL: taking the lease once it has expired or its holder's session
    is gone; on SQLite: starting) raises `epoch` by one. The leader renews `lease_expires_at`
    (the database's clock) while it runs. Every plan commit reads this row under a share lock
    and is refused unless the epoch is still the one its runner was elected with, so a deposed
    leader's late commit can never land after a new leader was elected.
    """

    __tablename__ = "balancer_leadership"

    id: int = Field(default=1, primary_key=True)
    epoch: int
    replica: str = text(200)
    elected_at: datetime = when()
    # Until when the leader holds the balancer unless it renews (PostgreSQL only; null: free).
    lease_expires_at: datetime | None = when(nullable=True)
    # The backend pid of the leader's lease connection: once that session is gone (the leader
    # died), a follower need not wait for the lease to expire.
    holder_pid: int | None = Field(default=None, nullable=True)
