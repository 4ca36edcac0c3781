"""reading paces: per reader and procedure group, the sufficient statistics of signed reads'
log read times (balancer.paces learns each reader's pace from them)

Revision ID: 7b2e9d4c1a58
Revises: 6e2b9d4f1a58
Create Date: 2026-12-04 21:30:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import domain.types

revision: str = '7b2e9d4c1a58'
down_revision: str | None = '6e2b9d4f1a58'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'reading_paces',
        sa.Column('radiologist_id', sa.Integer(), nullable=False),
        sa.Column(
            'procedure_group', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False
        ),
        sa.Column('reads', sa.Integer(), nullable=False),
        sa.Column('log_sum', sa.Float(), nullable=False),
        sa.Column('log_square_sum', sa.Float(), nullable=False),
        sa.Column('updated_at', domain.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['radiologist_id'], ['radiologists.id']),
        sa.PrimaryKeyConstraint('radiologist_id', 'procedure_group'),
    )


def downgrade() -> None:
    op.drop_table('reading_paces')
