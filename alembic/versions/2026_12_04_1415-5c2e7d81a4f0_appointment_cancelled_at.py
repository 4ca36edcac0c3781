"""appointments record when they were cancelled or moved: late cancellations are a metric

Revision ID: 5c2e7d81a4f0
Revises: 5e0c1d7a9b42
Create Date: 2026-12-04 14:15:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

import domain.types
from alembic import op

revision: str = '5c2e7d81a4f0'
down_revision: str | None = '5e0c1d7a9b42'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('appointments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('cancelled_at', domain.types.UTCDateTime(), nullable=True))
    # A cancelled appointment was cancelled when its exam was: the history says when. (A moved
    # one's time is not recoverable from the history alone when an exam moved more than once;
    # those stay unknown, and only cancellations count as late ones.)
    op.execute(
        "UPDATE appointments SET cancelled_at = (SELECT max(h.at) FROM exam_status_history h "
        "WHERE h.exam_id = appointments.exam_id AND h.to_status = 'CANCELLED') "
        "WHERE status = 'CANCELLED'")


def downgrade() -> None:
    with op.batch_alter_table('appointments', schema=None) as batch_op:
        batch_op.drop_column('cancelled_at')
