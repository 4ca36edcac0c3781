"""balancer leadership: the one-row epoch (fencing token) table; runs record their epoch

Revision ID: c3f5a8d20e17
Revises: b7e4c2a91d05
Create Date: 2026-11-28 12:40:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import domain.types


revision: str = 'c3f5a8d20e17'
down_revision: str | None = 'b7e4c2a91d05'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('balancer_leadership',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('epoch', sa.Integer(), nullable=False),
    sa.Column('replica', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('elected_at', domain.types.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('balancer_runs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('epoch', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('leader', sqlmodel.sql.sqltypes.AutoString(length=200),
                                      nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('balancer_runs', schema=None) as batch_op:
        batch_op.drop_column('leader')
        batch_op.drop_column('epoch')
    op.drop_table('balancer_leadership')
