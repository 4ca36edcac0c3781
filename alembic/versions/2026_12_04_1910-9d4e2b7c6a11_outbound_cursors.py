"""outbound cursors: how far each outbound interface destination has been sent the events

Revision ID: 9d4e2b7c6a11
Revises: 7a3c9e1d5b20
Create Date: 2026-12-04 19:10:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import domain.types

revision: str = '9d4e2b7c6a11'
down_revision: str | None = '7a3c9e1d5b20'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'outbound_cursors',
        sa.Column('next_attempt_at', domain.types.UTCDateTime(), nullable=True),
        sa.Column('updated_at', domain.types.UTCDateTime(), nullable=False),
        sa.Column('destination', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('protocol', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('last_error', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.Column('delivered', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('destination'),
    )


def downgrade() -> None:
    op.drop_table('outbound_cursors')
