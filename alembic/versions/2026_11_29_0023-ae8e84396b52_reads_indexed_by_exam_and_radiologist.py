"""reads indexed by exam and radiologist: a reader's access check on one exam uses both

Revision ID: ae8e84396b52
Revises: bbb3766ab3dc
Create Date: 2026-11-29 00:23:04.433381+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = 'ae8e84396b52'
down_revision: str | None = 'bbb3766ab3dc'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_reads_exam_radiologist', 'reads', ['exam_id', 'radiologist_id'])
    op.drop_index('ix_reads_exam_id', table_name='reads')


def downgrade() -> None:
    op.create_index('ix_reads_exam_id', 'reads', ['exam_id'])
    op.drop_index('ix_reads_exam_radiologist', table_name='reads')
