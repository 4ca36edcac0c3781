"""Builders for small hand-made snapshots: one study or reader per call, sensible defaults."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from balancer import Radiologist, Study
from domain.enums import PatientClass, Priority, RadiologistStatus, Subspecialty

NOW = datetime(2025, 3, 3, 12, 0, tzinfo=UTC)

MakeStudy = Callable[..., Study]
MakeReader = Callable[..., Radiologist]


@pytest.fixture
def now() -> datetime:
    return NOW


@pytest.fixture
def make_study() -> MakeStudy:
    """A routine outpatient CT study ready 10 minutes ago, due in a day, unassigned."""

    def build(sid: int, **kw: Any) -> Study:
        ready = kw.pop("ready_at", NOW - timedelta(minutes=10))
        fields: dict[str, Any] = {
            "subspecialty": Subspecialty.BODY,
            "site_id": 1,
            "priority": Priority.ROUTINE,
            "patient_class": PatientClass.OUTPATIENT,
            "wrvu": 1.0,
            "read_minutes": 10.0,
            "ready_at": ready,
            "due_at": ready + timedelta(hours=24),
        }
        fields.update(kw)
        return Study(id=sid, **fields)

    return build


@pytest.fixture
def make_reader() -> MakeReader:
    """An available BODY reader for site 1, mid-shift (8 hours left), at the reference pace."""

    def build(rid: int, **kw: Any) -> Radiologist:
        fields: dict[str, Any] = {
            "subspecialties": frozenset({Subspecialty.BODY}),
            "site_privileges": frozenset({1}),
            "status": RadiologistStatus.AVAILABLE,
            "shift_start": NOW - timedelta(hours=1),
            "shift_end": NOW + timedelta(hours=8),
            "wrvu_per_hour": 8.0,
        }
        fields.update(kw)
        return Radiologist(id=rid, **fields)

    return build
