"""Reading shifts and the balancer's run log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Field, SQLModel

from domain.models._columns import document, ref, text, when


class Shift(SQLModel, table=True):
    """A radiologist's reading shift at a site: planned end, actual start and end."""

    __tablename__ = "shifts"

    id: int | None = Field(default=None, primary_key=True)
    radiologist_id: int = ref("radiologists")
    site_id: int = ref("sites")
    starts_at: datetime = when()
    ends_at: datetime = when()
    ended_at: datetime | None = when(nullable=True, index=True)


class BalancerRun(SQLModel, table=True):
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
