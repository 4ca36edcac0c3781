"""Sites, scanners and the procedure catalog: what the department can do and where."""

from __future__ import annotations

from datetime import time

import sqlalchemy as sa
from sqlmodel import Field

from domain.enums import Modality, PatientClass, Priority, Subspecialty
from domain.models._columns import choice, document, ref, text
from domain.models._row import Row


class Site(Row, table=True):
    """A hospital or imaging centre; privileges and routing are per site."""

    __tablename__ = "sites"

    id: int | None = Field(default=None, primary_key=True)
    code: str = text(16, unique=True)
    name: str = text(120)
    timezone: str = text(64, default="UTC")


class ModalityResource(Row, table=True):
    """A scanner or room that exams are booked on."""

    __tablename__ = "modality_resources"

    id: int | None = Field(default=None, primary_key=True)
    code: str = text(32, unique=True)
    name: str = text(120)
    modality: Modality = choice(Modality)
    site_id: int = ref("sites")
    slot_minutes: int = Field(default=15, gt=0)
    active: bool = True
    # The DICOM application entity title the scanner uses: how it is known when it asks for
    # its worklist (scheduled station AE title) and reports its procedure steps (MPPS).
    ae_title: str | None = text(16, nullable=True, unique=True)


class OpeningHours(Row, table=True):
    """One opening window of a resource on a weekday (0 = Monday), in the site's local time.

    A window whose closing time is not after its opening time runs past midnight; 00:00 to
    00:00 is open all day.
    """

    __tablename__ = "resource_opening_hours"

    id: int | None = Field(default=None, primary_key=True)
    resource_id: int = ref("modality_resources")
    weekday: int = Field(ge=0, le=6)
    opens: time = Field(sa_column=sa.Column(sa.Time(), nullable=False))
    closes: time = Field(sa_column=sa.Column(sa.Time(), nullable=False))


class PrepProtocol(Row, table=True):
    """A preparation protocol (MRI safety, fasting, contrast screening, ...)."""

    __tablename__ = "prep_protocols"

    id: int | None = Field(default=None, primary_key=True)
    code: str = text(32, unique=True)
    name: str = text(120)
    patient_instructions: str = text(2000)


class PrepProtocolItem(Row, table=True):
    """One item of a protocol's checklist; copied onto each exam that uses the protocol."""

    __tablename__ = "prep_protocol_items"

    id: int | None = Field(default=None, primary_key=True)
    protocol_id: int = ref("prep_protocols")
    position: int
    code: str = text(32)
    description: str = text(300)


class ReportTemplate(Row, table=True):
    """A structured report template: sections, each with fields, some required.

    `sections` is a list of {"key", "title", "fields": [{"key", "label", "required"}]}.
    """

    __tablename__ = "report_templates"

    id: int | None = Field(default=None, primary_key=True)
    code: str = text(32, unique=True)
    name: str = text(120)
    sections: list[dict[str, object]] = document()


class Procedure(Row, table=True):
    """A catalog entry: what is done, how long it takes to read and how much work it is."""

    __tablename__ = "procedures"

    id: int | None = Field(default=None, primary_key=True)
    code: str = text(16, unique=True)
    name: str = text(160)
    modality: Modality = choice(Modality)
    body_part: str = text(32)
    subspecialty: Subspecialty = choice(Subspecialty)
    wrvu: float = Field(ge=0)
    read_minutes: int = Field(gt=0)
    scan_minutes: int = Field(gt=0)
    prep_protocol_id: int | None = ref("prep_protocols", nullable=True)
    report_template_id: int | None = ref("report_templates", nullable=True)
    active: bool = True
    # What the exam is billed as when performed (HL7 DFT^P03, docs/interop.md): its CPT code and
    # the department's charge in cents (USD); unset for a procedure that is not charged.
    cpt_code: str | None = text(5, nullable=True)
    charge_cents: int | None = Field(default=None, ge=0)


class TurnaroundTarget(Row, table=True):
    """Minutes from study availability to final report, per priority and patient class."""

    __tablename__ = "turnaround_targets"
    __table_args__ = (
        sa.UniqueConstraint(
            "procedure_id", "priority", "patient_class", name="uq_turnaround_target"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    procedure_id: int = ref("procedures")
    priority: Priority = choice(Priority)
    patient_class: PatientClass = choice(PatientClass)
    minutes: int = Field(gt=0)
