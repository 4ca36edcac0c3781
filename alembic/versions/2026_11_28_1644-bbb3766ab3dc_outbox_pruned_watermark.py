"""outbox pruned watermark: how far pruning has gone, so a resume from before it is refused

Revision ID: bbb3766ab3dc
Revises: d9a1e6f4b328
Create Date: 2026-11-28 16:44:54.734874+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import domain.types


revision: str = 'bbb3766ab3dc'
down_revision: str | None = 'd9a1e6f4b328'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('event_outbox_pruned',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('through', sa.Integer(), nullable=False),
    sa.Column('pruned_at', domain.types.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )


def downgrade() -> None:
    op.drop_table('event_outbox_pruned')
