"""The people radflow knows: patients, referring physicians and radiologists."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlmodel import Field

from domain.enums import RadiologistStatus, Subspecialty
from domain.models._columns import choice, ref, text, when
from domain.models._row import Row


class Patient(Row, table=True):
    """A patient, identified by the medical record number (MRN)."""

    __tablename__ = "patients"

    id: int | None = Field(default=None, primary_key=True)
    mrn: str = text(32, unique=True)
    given_name: str = text(80)
    family_name: str = text(80)
    birth_date: date
    sex: str = text(1)
    phone: str | None = text(32, nullable=True)
    email: str | None = text(254, nullable=True)


class Referrer(Row, table=True):
    """A referring physician who orders exams and receives results."""

    __tablename__ = "referrers"

    id: int | None = Field(default=None, primary_key=True)
    code: str = text(32, unique=True)
    name: str = text(160)
    email: str | None = text(254, nullable=True)
    phone: str | None = text(32, nullable=True)
    # Who covers this referrer's patients when they do not answer: the second step of a
    # critical result's escalation chain (then the radiology supervisor).
    covered_by_id: int | None = ref("referrers", nullable=True, index=False)


class Radiologist(Row, table=True):
    """A reader: credentials, privileges and reading rate decide what they may read."""

    __tablename__ = "radiologists"

    id: int | None = Field(default=None, primary_key=True)
    code: str = text(32, unique=True)
    name: str = text(160)
    wrvu_per_hour: float = Field(gt=0)
    status: RadiologistStatus = choice(RadiologistStatus, default=RadiologistStatus.OFF)
    # When `status` last changed (null: before this was recorded): how long a reader has been
    # away decides when their open urgent reads are released.
    status_since: datetime | None = when(nullable=True)


class RadiologistSubspecialty(Row, table=True):
    """A subspecialty credential held by a radiologist."""

    __tablename__ = "radiologist_subspecialties"

    radiologist_id: int = Field(foreign_key="radiologists.id", primary_key=True)
    subspecialty: Subspecialty = Field(
        sa_column=sa.Column(
            sa.Enum(
                Subspecialty,
                native_enum=False,
                create_constraint=False,
                length=32,
                values_callable=lambda m: [x.value for x in m],
                validate_strings=True,
            ),
            primary_key=True,
        )
    )


class SitePrivilege(Row, table=True):
    """A radiologist's licence/privilege to read for a site, possibly expiring."""

    __tablename__ = "radiologist_site_privileges"

    radiologist_id: int = Field(foreign_key="radiologists.id", primary_key=True)
    site_id: int = Field(foreign_key="sites.id", primary_key=True)
    expires_on: date | None = None


__all__ = ["Patient", "Radiologist", "RadiologistSubspecialty", "Referrer", "SitePrivilege", "ref"]
