"""placer numbers scoped per caller: a referrer's own orders form their own idempotency scope

Revision ID: 5e2a7c91f3d4
Revises: ae8e84396b52
Create Date: 2026-12-04 14:30:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '5e2a7c91f3d4'
down_revision: str | None = 'ae8e84396b52'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('exams') as batch:
        batch.add_column(sa.Column('placer_scope', sa.String(length=64), nullable=False,
                                   server_default=''))
        batch.drop_constraint('uq_exam_placer_order', type_='unique')
        batch.create_unique_constraint('uq_exam_placer_order',
                                       ['order_source', 'placer_order_number', 'placer_scope'])


def downgrade() -> None:
    with op.batch_alter_table('exams') as batch:
        batch.drop_constraint('uq_exam_placer_order', type_='unique')
        batch.create_unique_constraint('uq_exam_placer_order',
                                       ['order_source', 'placer_order_number'])
        batch.drop_column('placer_scope')
