"""retention: the policy's rules, legal holds, each stored study's expiry, purges from the PACS

Revision ID: 5e2b9c4d7a18
Revises: b7e2d4f1a903
Create Date: 2026-12-04 21:15:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import domain.types

revision: str = "5e2b9c4d7a18"
down_revision: str | None = "b7e2d4f1a903"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "legal_holds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("study_instance_uid", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("patient_id", sa.Integer(), nullable=True),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("placed_by", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("placed_at", domain.types.UTCDateTime(), nullable=False),
        sa.Column("released_by", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("released_at", domain.types.UTCDateTime(), nullable=True),
        sa.Column("release_reason", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patients.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("legal_holds", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_legal_holds_patient_id"), ["patient_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_legal_holds_study_instance_uid"), ["study_instance_uid"], unique=False
        )

    op.create_table(
        "retention_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scope", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column(
            "modality",
            sa.Enum(
                "CT",
                "MR",
                "US",
                "XR",
                "MG",
                "NM",
                "PT",
                "FL",
                name="modality",
                native_enum=False,
                create_constraint=False,
                length=32,
            ),
            nullable=True,
        ),
        sa.Column("site_id", sa.Integer(), nullable=True),
        sa.Column("years", sa.Integer(), nullable=False),
        sa.Column("majority_age", sa.Integer(), nullable=False),
        sa.Column("years_after_majority", sa.Integer(), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("updated_by", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("updated_at", domain.types.UTCDateTime(), nullable=False),
        sa.Column("withdrawn_at", domain.types.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["site_id"],
            ["sites.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("scope"),
    )
    op.create_table(
        "study_purges",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("archived_study_id", sa.Integer(), nullable=False),
        sa.Column("pacs_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column(
            "study_instance_uid", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False
        ),
        sa.Column("accession_number", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("exam_id", sa.Integer(), nullable=True),
        sa.Column("study_date", sa.Date(), nullable=True),
        sa.Column("expires_on", sa.Date(), nullable=False),
        sa.Column("retention_rule_id", sa.Integer(), nullable=True),
        sa.Column(
            "previous_state",
            sa.Enum(
                "PENDING",
                "READY",
                "REJECTED",
                "UNMATCHED",
                "RECONCILED",
                "PURGING",
                "PURGED",
                name="archivedstudystate",
                native_enum=False,
                create_constraint=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "outcome",
            sa.Enum(
                "DELETING",
                "DELETED",
                "FAILED",
                name="purgeoutcome",
                native_enum=False,
                create_constraint=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("error", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("purged_by", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("requested_at", domain.types.UTCDateTime(), nullable=False),
        sa.Column("finished_at", domain.types.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["archived_study_id"],
            ["archived_studies.id"],
        ),
        sa.ForeignKeyConstraint(
            ["exam_id"],
            ["exams.id"],
        ),
        sa.ForeignKeyConstraint(
            ["retention_rule_id"],
            ["retention_rules.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("study_purges", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_study_purges_archived_study_id"), ["archived_study_id"], unique=False
        )

    with op.batch_alter_table("archived_studies", schema=None) as batch_op:
        batch_op.add_column(sa.Column("expires_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("retention_rule_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("retention_computed_at", domain.types.UTCDateTime(), nullable=True)
        )
        batch_op.create_index(
            batch_op.f("ix_archived_studies_expires_on"), ["expires_on"], unique=False
        )
        batch_op.create_foreign_key(
            "fk_archived_studies_retention_rule_id",
            "retention_rules",
            ["retention_rule_id"],
            ["id"],
        )


def downgrade() -> None:
    with op.batch_alter_table("archived_studies", schema=None) as batch_op:
        batch_op.drop_constraint("fk_archived_studies_retention_rule_id", type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_archived_studies_expires_on"))
        batch_op.drop_column("retention_computed_at")
        batch_op.drop_column("retention_rule_id")
        batch_op.drop_column("expires_on")

    with op.batch_alter_table("study_purges", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_study_purges_archived_study_id"))

    op.drop_table("study_purges")
    op.drop_table("retention_rules")
    with op.batch_alter_table("legal_holds", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_legal_holds_study_instance_uid"))
        batch_op.drop_index(batch_op.f("ix_legal_holds_patient_id"))

    op.drop_table("legal_holds")
