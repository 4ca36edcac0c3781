"""inbound messages: each accepted HL7 v2 message once, with the acknowledgement it was given

Revision ID: 7a3c9e1d5b20
Revises: 8b4d2f6a1c93
Create Date: 2026-12-04 19:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import domain.types

revision: str = '7a3c9e1d5b20'
down_revision: str | None = '8b4d2f6a1c93'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'inbound_messages',
        sa.Column('acknowledgement', sa.Text(), nullable=False),
        sa.Column('received_at', domain.types.UTCDateTime(), nullable=False),
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('protocol', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column('sender', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column('control_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('message_type', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('protocol', 'sender', 'control_id', name='uq_inbound_message'),
    )


def downgrade() -> None:
    op.drop_table('inbound_messages')
