"""coded report template fields: BI-RADS, breast composition, LI-RADS and Lung-RADS as codes

A data migration for databases seeded before report template fields had a type: the stock
mammography template's density and BI-RADS fields become CODED, and breast ultrasound, breast
MRI, liver MRI and chest CT get their own templates (the stock template's other sections, then
a findings section with the coded field), provided their procedures still use the stock
template. A department's own templates and procedures are left as they are. The documents are
copied here, as they were when this revision was written.

Revision ID: 5e0c1d7a9b42
Revises: 5e2a7c91f3d4
Create Date: 2026-12-04 14:50:00+00:00
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

from alembic import op

revision: str = '5e0c1d7a9b42'
down_revision: str | None = '5e2a7c91f3d4'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DOCUMENT = sa.JSON().with_variant(JSONB(), "postgresql")  # as domain.models._columns
templates = sa.table("report_templates", sa.column("id", sa.Integer),
                     sa.column("code", sa.String), sa.column("name", sa.String),
                     sa.column("sections", DOCUMENT))
procedures = sa.table("procedures", sa.column("code", sa.String),
                      sa.column("report_template_id", sa.Integer))


def _text(key: str, label: str, required: bool) -> dict[str, Any]:
    return {"key": key, "label": label, "required": required, "type": "TEXT"}


def _coded(key: str, label: str, required: bool, system: str) -> dict[str, Any]:
    return {"key": key, "label": label, "required": required, "type": "CODED",
            "code_system": system}


_BIRADS = _coded("birads", "BI-RADS assessment category", True, "BI_RADS")
# new template code -> (name, stock template it derives from, its findings fields, procedure)
_NEW = {
    "CT_CHEST": ("CT chest structured report", "CT", [
        _text("findings", "Findings", True),
        _coded("lungrads", "Lung-RADS category (lung cancer screening)", False, "LUNG_RADS")],
        "CTCHEST"),
    "MR_LIVER": ("MRI liver report (LI-RADS)", "MR", [
        _text("findings", "Findings", True),
        _coded("lirads", "LI-RADS category of the dominant observation", True, "LI_RADS")],
        "MRLIVER"),
    "MR_BREAST": ("MRI breast report (BI-RADS)", "MR", [_text("findings", "Findings", True),
                                                        _BIRADS], "MRBREAST"),
    "US_BREAST": ("Breast ultrasound report (BI-RADS)", "US", [
        _text("findings", "Findings", True), _BIRADS], "USBREAST"),
}
_MAMMOGRAPHY_CODES = {"density": "BREAST_DENSITY", "birads": "BI_RADS"}


def _by_code(connection: sa.Connection) -> dict[str, tuple[int, list[dict[str, Any]]]]:
    rows = connection.execute(sa.select(templates.c.id, templates.c.code, templates.c.sections))
    return {row.code: (row.id, list(row.sections)) for row in rows}


def upgrade() -> None:
    connection = op.get_bind()
    known = _by_code(connection)
    if "MG" in known:
        template_id, sections = known["MG"]
        for section in sections:
            for field in section.get("fields", []):
                system = _MAMMOGRAPHY_CODES.get(field.get("key"))
                if system and "type" not in field:
                    field.update(type="CODED", code_system=system)
        connection.execute(templates.update().where(templates.c.id == template_id)
                           .values(sections=sections))
    for code, (name, stock, findings, procedure) in _NEW.items():
        if code in known or stock not in known:
            continue
        stock_id, stock_sections = known[stock]
        sections = [s for s in stock_sections if s.get("key") != "findings"]
        sections.append({"key": "findings", "title": "Findings", "fields": findings})
        connection.execute(templates.insert().values(code=code, name=name, sections=sections))
        new_id = connection.execute(sa.select(templates.c.id)
                                    .where(templates.c.code == code)).scalar_one()
        connection.execute(procedures.update()
                           .where(procedures.c.code == procedure,
                                  procedures.c.report_template_id == stock_id)
                           .values(report_template_id=new_id))


def downgrade() -> None:
    connection = op.get_bind()
    known = _by_code(connection)
    for code, (_, stock, _, procedure) in _NEW.items():
        if code not in known or stock not in known:
            continue
        connection.execute(procedures.update()
                           .where(procedures.c.code == procedure,
                                  procedures.c.report_template_id == known[code][0])
                           .values(report_template_id=known[stock][0]))
        in_use = connection.execute(sa.select(sa.func.count()).select_from(procedures)
                                    .where(procedures.c.report_template_id == known[code][0]))
        if not in_use.scalar_one():
            connection.execute(templates.delete().where(templates.c.id == known[code][0]))
    # The mammography fields keep their `type`: a reader of the older documents ignores it.
