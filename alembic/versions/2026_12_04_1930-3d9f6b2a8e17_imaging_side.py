"""imaging side: scanners' AE titles, MPPS procedure steps, studies from the PACS and its feed

Revision ID: 3d9f6b2a8e17
Revises: 3f8a61c2d9e4
Create Date: 2026-12-04 19:30:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import domain.types

revision: str = '3d9f6b2a8e17'
down_revision: str | None = '3f8a61c2d9e4'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The demo department's scanners (application/demo.py): a seeded database learns their titles.
DEMO_AE_TITLES = {
    'CT1': 'MAIN_CT1',
    'MR1': 'MAIN_MR1',
    'US1': 'NORTH_US1',
    'XR1': 'MAIN_XR1',
    'MG1': 'NORTH_MG1',
    'NM1': 'MAIN_NM1',
}


def upgrade() -> None:
    with op.batch_alter_table('modality_resources') as batch:
        batch.add_column(
            sa.Column('ae_title', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True)
        )
        batch.create_unique_constraint('uq_modality_resources_ae_title', ['ae_title'])
    resources = sa.table('modality_resources', sa.column('code'), sa.column('ae_title'))
    for code, title in DEMO_AE_TITLES.items():
        op.execute(
            resources.update().where(resources.c.code == code).values(ae_title=title)
        )
    op.create_table(
        'performed_procedure_steps',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('sop_instance_uid', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('exam_id', sa.Integer(), nullable=False),
        sa.Column('station_ae_title', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column('status', sa.Enum('IN PROGRESS', 'COMPLETED', 'DISCONTINUED', name='procedurestepstatus', native_enum=False, create_constraint=False, length=32), nullable=False),
        sa.Column('created_at', domain.types.UTCDateTime(), nullable=False),
        sa.Column('updated_at', domain.types.UTCDateTime(), nullable=False),
        sa.Column('series_count', sa.Integer(), nullable=True),
        sa.Column('image_count', sa.Integer(), nullable=True),
        sa.Column('discontinued_reason', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.ForeignKeyConstraint(['exam_id'], ['exams.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('sop_instance_uid'),
    )
    op.create_index('ix_performed_procedure_steps_exam_id', 'performed_procedure_steps', ['exam_id'])
    op.create_table(
        'archived_studies',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('pacs_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('study_instance_uid', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('accession_number', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('exam_id', sa.Integer(), nullable=True),
        sa.Column('state', sa.Enum('PENDING', 'READY', 'REJECTED', 'UNMATCHED', name='archivedstudystate', native_enum=False, create_constraint=False, length=32), nullable=False),
        sa.Column('header', domain.types.json_type(), nullable=False),
        sa.Column('problems', domain.types.json_type(), nullable=False),
        sa.Column('series_count', sa.Integer(), nullable=False),
        sa.Column('image_count', sa.Integer(), nullable=False),
        sa.Column('dicomweb_url', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column('viewer_url', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.Column('received_at', domain.types.UTCDateTime(), nullable=False),
        sa.Column('updated_at', domain.types.UTCDateTime(), nullable=False),
        sa.Column('study_date', sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(['exam_id'], ['exams.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('pacs_id'),
    )
    op.create_index('ix_archived_studies_study_instance_uid', 'archived_studies', ['study_instance_uid'])
    op.create_index('ix_archived_studies_accession_number', 'archived_studies', ['accession_number'])
    op.create_index('ix_archived_studies_exam_id', 'archived_studies', ['exam_id'])
    op.create_index('ix_archived_studies_state', 'archived_studies', ['state'])
    op.create_table(
        'pacs_followers',
        sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('last_change', sa.Integer(), nullable=False),
        sa.Column('holder', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column('claimed_until', domain.types.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint('name'),
    )


def downgrade() -> None:
    op.drop_table('pacs_followers')
    op.drop_table('archived_studies')
    op.drop_table('performed_procedure_steps')
    with op.batch_alter_table('modality_resources') as batch:
        batch.drop_constraint('uq_modality_resources_ae_title', type_='unique')
        batch.drop_column('ae_title')
