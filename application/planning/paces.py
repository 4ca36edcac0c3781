"""Each reader's learned paces for the planner's snapshot, from the `reading_paces` rows the
signings keep (one row per reader and procedure group: the load stays small and fast however
long the history)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlmodel import col

from balancer.model import Params
from balancer.paces import PaceHistory, learned_paces
from domain.models import Radiologist as RadiologistRow
from domain.models import ReadingPace


def reader_paces(session: Session, params: Params | None = None) -> dict[int, dict[str, float]]:
    """Per radiologist, their learned pace factor per procedure group (`balancer.paces`), the
    prior being the catalogue scaled by their wRVU per hour at the planner's reference pace."""
    reference = (params or Params()).reference_wrvu_per_hour
    histories: dict[tuple[int, str], PaceHistory] = {}
    inv_speed: dict[int, float] = {}
    for rid, group, reads, log_sum, square_sum, wrvu_per_hour in session.execute(
        sa.select(
            col(ReadingPace.radiologist_id),
            col(ReadingPace.procedure_group),
            col(ReadingPace.reads),
            col(ReadingPace.log_sum),
            col(ReadingPace.log_square_sum),
            col(RadiologistRow.wrvu_per_hour),
        ).join(RadiologistRow, col(RadiologistRow.id) == col(ReadingPace.radiologist_id))
    ):
        histories[rid, group] = PaceHistory(int(reads), float(log_sum), float(square_sum))
        if wrvu_per_hour and wrvu_per_hour > 0:
            inv_speed[rid] = reference / float(wrvu_per_hour)
    return learned_paces(histories, inv_speed)
