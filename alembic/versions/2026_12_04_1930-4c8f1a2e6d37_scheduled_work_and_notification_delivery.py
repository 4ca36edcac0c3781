"""scheduled work (the clock), notification delivery state, follow-ups told, critical reports
escalated before communication

Revision ID: 4c8f1a2e6d37
Revises: 3d9f6b2a8e17
Create Date: 2026-12-04 19:30:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import domain.types

revision: str = '4c8f1a2e6d37'
down_revision: str | None = '3d9f6b2a8e17'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'scheduled_work',
        sa.Column('due_at', domain.types.UTCDateTime(), nullable=False),
        sa.Column('claimed_until', domain.types.UTCDateTime(), nullable=True),
        sa.Column('last_started_at', domain.types.UTCDateTime(), nullable=True),
        sa.Column('last_finished_at', domain.types.UTCDateTime(), nullable=True),
        sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column('every_seconds', sa.Float(), nullable=False),
        sa.Column('claimed_by', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
        sa.Column('last_outcome', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.Column('runs', sa.Integer(), nullable=False),
        sa.Column('failures', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('kind'),
    )
    with op.batch_alter_table('notifications') as batch:
        batch.add_column(sa.Column('attempts', sa.Integer(), nullable=False, server_default='0'))
        batch.add_column(
            sa.Column('next_attempt_at', domain.types.UTCDateTime(), nullable=True)
        )
        batch.add_column(sa.Column('claimed_until', domain.types.UTCDateTime(), nullable=True))
        batch.add_column(
            sa.Column('delivery_id', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=True)
        )
        batch.add_column(sa.Column('sent_at', domain.types.UTCDateTime(), nullable=True))
        batch.add_column(sa.Column('failed_at', domain.types.UTCDateTime(), nullable=True))
        batch.add_column(sa.Column('cancelled_at', domain.types.UTCDateTime(), nullable=True))
        batch.add_column(
            sa.Column('last_answer', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True)
        )
    with op.batch_alter_table('follow_up_recommendations') as batch:
        batch.add_column(
            sa.Column('due_notified_at', domain.types.UTCDateTime(), nullable=True)
        )
    with op.batch_alter_table('referrers') as batch:
        batch.add_column(sa.Column('covered_by_id', sa.Integer(), nullable=True))
        batch.create_foreign_key(
            'fk_referrers_covered_by_id_referrers', 'referrers', ['covered_by_id'], ['id']
        )
    with op.batch_alter_table('reports') as batch:
        batch.add_column(
            sa.Column('uncommunicated_escalated_at', domain.types.UTCDateTime(), nullable=True)
        )
        batch.add_column(
            sa.Column(
                'uncommunicated_escalations', sa.Integer(), nullable=False, server_default='0'
            )
        )


def downgrade() -> None:
    with op.batch_alter_table('referrers') as batch:
        batch.drop_constraint('fk_referrers_covered_by_id_referrers', type_='foreignkey')
        batch.drop_column('covered_by_id')
    with op.batch_alter_table('reports') as batch:
        batch.drop_column('uncommunicated_escalations')
        batch.drop_column('uncommunicated_escalated_at')
    with op.batch_alter_table('follow_up_recommendations') as batch:
        batch.drop_column('due_notified_at')
    with op.batch_alter_table('notifications') as batch:
        for column in (
            'last_answer', 'cancelled_at', 'failed_at', 'sent_at', 'delivery_id',
            'claimed_until', 'next_attempt_at', 'attempts',
        ):
            batch.drop_column(column)
    op.drop_table('scheduled_work')
