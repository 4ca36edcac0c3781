"""procedure charges: each procedure's CPT code and charge, for HL7 DFT^P03 when performed

Revision ID: 6b2e8d4f1a93
Revises: 7a3e5c9d1b24
Create Date: 2026-12-04 21:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '6b2e8d4f1a93'
down_revision: str | None = '7a3e5c9d1b24'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The seeded catalogue's procedures, as domain/catalog_data.py CHARGES had them when this was
# written: a department seeded before it gets them too (a procedure it added itself stays
# uncharged until an administrator sets its code and charge).
CHARGES = [
    ('CTHEAD', '70450', 82500),
    ('CTHEADSTROKE', '70496', 214000),
    ('CTCHEST', '71260', 131000),
    ('CTPE', '71275', 168000),
    ('CTAP', '74177', 189500),
    ('CTSPINEC', '72125', 97000),
    ('CTKNEE', '73700', 88000),
    ('MRBRAIN', '70553', 264000),
    ('MRSPINEL', '72148', 198000),
    ('MRKNEE', '73721', 176000),
    ('MRSHOULDER', '73221', 176000),
    ('MRLIVER', '74183', 251000),
    ('MRCARDIAC', '75561', 312000),
    ('MRBREAST', '77049', 238000),
    ('USABD', '76700', 54000),
    ('USPELVIS', '76856', 47500),
    ('USTHYROID', '76536', 41000),
    ('USDVT', '93971', 63000),
    ('USBREAST', '76641', 39500),
    ('USPEDHIP', '76885', 45000),
    ('XRCHEST2V', '71046', 18500),
    ('XRCHEST1V', '71045', 14500),
    ('XRKNEE', '73562', 16000),
    ('XRWRIST', '73110', 15500),
    ('XRSPINEL', '72100', 17500),
    ('XRPEDCHEST', '71046', 18500),
    ('MGSCREEN', '77067', 29500),
    ('MGDIAG', '77065', 33000),
    ('NMBONE', '78306', 121000),
    ('NMPETCT', '78815', 465000),
    ('NMTHYROID', '78014', 72000),
]


def upgrade() -> None:
    with op.batch_alter_table('procedures', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('cpt_code', sqlmodel.sql.sqltypes.AutoString(length=5), nullable=True)
        )
        batch_op.add_column(sa.Column('charge_cents', sa.Integer(), nullable=True))
    procedures = sa.table(
        'procedures',
        sa.column('code', sa.String()),
        sa.column('cpt_code', sa.String()),
        sa.column('charge_cents', sa.Integer()),
    )
    for code, cpt, cents in CHARGES:
        op.execute(
            procedures.update()
            .where(procedures.c.code == code)
            .values(cpt_code=cpt, charge_cents=cents)
        )


def downgrade() -> None:
    with op.batch_alter_table('procedures', schema=None) as batch_op:
        batch_op.drop_column('charge_cents')
        batch_op.drop_column('cpt_code')
