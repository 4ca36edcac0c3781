"""read release: why a read was given back, and since when a reader has had their status

Revision ID: 8b4d2f6a1c93
Revises: 5e1a7c3b9d20
Create Date: 2026-12-04 14:45:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import domain.types

revision: str = '8b4d2f6a1c93'
down_revision: str | None = '5e1a7c3b9d20'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('reads', schema=None) as batch_op:
        batch_op.add_column(sa.Column('end_note', sqlmodel.sql.sqltypes.AutoString(length=500),
                                      nullable=True))
    with op.batch_alter_table('radiologists', schema=None) as batch_op:
        batch_op.add_column(sa.Column('status_since', domain.types.UTCDateTime(),
                                      nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('radiologists', schema=None) as batch_op:
        batch_op.drop_column('status_since')
    with op.batch_alter_table('reads', schema=None) as batch_op:
        batch_op.drop_column('end_note')
