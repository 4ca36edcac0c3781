"""archived study failures: a study the PACS follower failed to handle is tried again later

Revision ID: b7e2d4f1a903
Revises: 4c8f1a2e6d37
Create Date: 2026-12-04 21:50:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import domain.types

revision: str = 'b7e2d4f1a903'
down_revision: str | None = '4c8f1a2e6d37'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The state column is text without a constraint: FAILED needs no change there.
    with op.batch_alter_table('archived_studies') as batch:
        batch.add_column(sa.Column('attempts', sa.Integer(), server_default='0', nullable=False))
        batch.add_column(
            sa.Column('last_error', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True)
        )
        batch.add_column(sa.Column('retry_at', domain.types.UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('archived_studies') as batch:
        batch.drop_column('retry_at')
        batch.drop_column('last_error')
        batch.drop_column('attempts')
