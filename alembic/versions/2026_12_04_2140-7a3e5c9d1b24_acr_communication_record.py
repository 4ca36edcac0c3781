"""the ACR communication record: finding, identified, window, who received it and how, the
latest escalation step, a read-back

Revision ID: 7a3e5c9d1b24
Revises: 5e2b9c4d7a18
Create Date: 2026-12-04 21:40:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import domain.types

revision: str = '7a3e5c9d1b24'
down_revision: str | None = '5e2b9c4d7a18'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHANNEL = sa.Enum(
    'SMS', 'EMAIL', 'PORTAL', 'PHONE', 'HL7', name='notificationchannel', native_enum=False, length=32
)
# The windows in force before they were configurable (minutes), for the rows already there.
WINDOWS = {'CRITICAL': 60, 'URGENT': 360, 'UNEXPECTED': 4320}


def upgrade() -> None:
    with op.batch_alter_table('result_communications') as batch:
        batch.add_column(
            sa.Column(
                'finding',
                sqlmodel.sql.sqltypes.AutoString(length=1000),
                nullable=False,
                server_default='',
            )
        )
        batch.add_column(sa.Column('identified_at', domain.types.UTCDateTime(), nullable=True))
        batch.add_column(sa.Column('window_minutes', sa.Integer(), nullable=True))
        batch.add_column(
            sa.Column('received_by_kind', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True)
        )
        batch.add_column(sa.Column('received_by_id', sa.Integer(), nullable=True))
        batch.add_column(
            sa.Column('received_by_name', sqlmodel.sql.sqltypes.AutoString(length=160), nullable=True)
        )
        batch.add_column(sa.Column('received_at', domain.types.UTCDateTime(), nullable=True))
        batch.add_column(sa.Column('received_via', CHANNEL, nullable=True))
        batch.add_column(
            sa.Column('escalated_to_kind', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True)
        )
        batch.add_column(sa.Column('escalated_to_id', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('escalated_via', CHANNEL, nullable=True))
        batch.add_column(
            sa.Column('read_back_by', sqlmodel.sql.sqltypes.AutoString(length=160), nullable=True)
        )
        batch.add_column(sa.Column('read_back_via', CHANNEL, nullable=True))
    rows = sa.table(
        'result_communications',
        sa.column('critical_level', sa.String()),
        sa.column('window_minutes', sa.Integer()),
    )
    for level, minutes in WINDOWS.items():
        op.execute(
            rows.update().where(rows.c.critical_level == level).values(window_minutes=minutes)
        )


def downgrade() -> None:
    with op.batch_alter_table('result_communications') as batch:
        for name in (
            'read_back_via',
            'read_back_by',
            'escalated_via',
            'escalated_to_id',
            'escalated_to_kind',
            'received_via',
            'received_at',
            'received_by_name',
            'received_by_id',
            'received_by_kind',
            'window_minutes',
            'identified_at',
            'finding',
        ):
            batch.drop_column(name)
