"""fhir subscriptions: REST-hook subscriptions on DiagnosticReport and ServiceRequest

Revision ID: 3f8a61c2d9e4
Revises: 9d4e2b7c6a11
Create Date: 2026-12-04 19:20:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import domain.types

revision: str = '3f8a61c2d9e4'
down_revision: str | None = '9d4e2b7c6a11'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'fhir_subscriptions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('owner', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('role', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column('phi', sa.Boolean(), nullable=False),
        sa.Column('sites', domain.types.json_type(), nullable=False),
        sa.Column('criteria', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column('endpoint', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column('headers', domain.types.json_type(), nullable=False),
        sa.Column('payload', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column('error', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.Column('created_at', domain.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )


def downgrade() -> None:
    op.drop_table('fhir_subscriptions')
