"""follow-ups: modality, body region, interval, reason, overdue escalation

Revision ID: 6e2b9d4f1a58
Revises: 6b2e8d4f1a93
Create Date: 2026-12-04 21:30:00.000000+00:00

Existing rows stay valid: their due date is kept, they have no interval, and their modality
and body region are filled from the procedure code they named (none when they named none).
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import domain.types

revision: str = '6e2b9d4f1a58'
down_revision: str | None = '6b2e8d4f1a93'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MODALITY = sa.Enum(
    'CT', 'MR', 'US', 'XR', 'MG', 'NM', 'PT', 'FL',
    name='modality', native_enum=False, length=32,
)
UNIT = sa.Enum('DAYS', 'WEEKS', 'MONTHS', 'YEARS', name='intervalunit', native_enum=False, length=32)


def upgrade() -> None:
    with op.batch_alter_table('follow_up_recommendations') as batch:
        batch.add_column(sa.Column('modality', MODALITY, nullable=True))
        batch.add_column(
            sa.Column('body_region', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True)
        )
        batch.add_column(sa.Column('interval_count', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('interval_unit', UNIT, nullable=True))
        batch.add_column(
            sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=True)
        )
        batch.add_column(
            sa.Column('escalation_count', sa.Integer(), nullable=False, server_default='0')
        )
        batch.add_column(sa.Column('escalated_at', domain.types.UTCDateTime(), nullable=True))
        batch.create_index('ix_follow_up_recommendations_due_on', ['due_on'])
    follow_ups = sa.table(
        'follow_up_recommendations',
        sa.column('procedure_code'),
        sa.column('modality'),
        sa.column('body_region'),
    )
    procedures = sa.table('procedures', sa.column('code'), sa.column('modality'), sa.column('body_part'))
    named = procedures.c.code == follow_ups.c.procedure_code
    op.execute(
        follow_ups.update()
        .where(follow_ups.c.procedure_code.is_not(None))
        .values(
            modality=sa.select(procedures.c.modality).where(named).scalar_subquery(),
            body_region=sa.select(procedures.c.body_part).where(named).scalar_subquery(),
        )
    )


def downgrade() -> None:
    with op.batch_alter_table('follow_up_recommendations') as batch:
        batch.drop_index('ix_follow_up_recommendations_due_on')
        batch.drop_column('escalated_at')
        batch.drop_column('escalation_count')
        batch.drop_column('reason')
        batch.drop_column('interval_unit')
        batch.drop_column('interval_count')
        batch.drop_column('body_region')
        batch.drop_column('modality')
