"""balancer lease: the leader's lease expiry and its lease session, on the leadership row

Revision ID: 5e1a7c3b9d20
Revises: 5c2e7d81a4f0
Create Date: 2026-12-04 14:05:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import domain.types

revision: str = '5e1a7c3b9d20'
down_revision: str | None = '5c2e7d81a4f0'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('balancer_leadership', schema=None) as batch_op:
        batch_op.add_column(sa.Column('lease_expires_at', domain.types.UTCDateTime(),
                                      nullable=True))
        batch_op.add_column(sa.Column('holder_pid', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('balancer_leadership', schema=None) as batch_op:
        batch_op.drop_column('holder_pid')
        batch_op.drop_column('lease_expires_at')
