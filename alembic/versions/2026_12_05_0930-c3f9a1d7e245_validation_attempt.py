"""metadata validation attempt: a check counts for the acquisition attempt it was of

Revision ID: c3f9a1d7e245
Revises: 7b2e9d4c1a58
Create Date: 2026-12-05 09:30:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'c3f9a1d7e245'
down_revision: str | None = '7b2e9d4c1a58'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('metadata_validations') as batch:
        batch.add_column(sa.Column('attempt', sa.Integer(), nullable=True))
    # A check recorded before: of the last attempt begun by then.
    op.execute(
        "UPDATE metadata_validations SET attempt = ("
        " SELECT max(a.attempt) FROM acquisitions a"
        " WHERE a.exam_id = metadata_validations.exam_id"
        " AND a.started_at <= metadata_validations.validated_at)"
    )


def downgrade() -> None:
    with op.batch_alter_table('metadata_validations') as batch:
        batch.drop_column('attempt')
