"""The exported schema is the contract frontend teams code against: it must be current."""

from __future__ import annotations

from pathlib import Path

from api.cli import schema_sdl

ROOT = Path(__file__).resolve().parents[2]


def test_schema_graphql_is_up_to_date() -> None:
    exported = (ROOT / "schema.graphql").read_text()
    assert exported == schema_sdl(), "schema.graphql is stale: run `make schema`"


def test_the_exam_status_enum_has_exactly_the_lifecycle_statuses() -> None:
    sdl = schema_sdl()
    block = sdl[sdl.index("enum ExamStatus {") :]
    values = block[block.index("{") + 1 : block.index("}")].split()
    assert values == [
        "ORDERED",
        "SCHEDULED",
        "CHECKED_IN",
        "PREPARED",
        "IN_ACQUISITION",
        "ACQUIRED",
        "METADATA_REJECTED",
        "READY_FOR_READ",
        "IN_INTERPRETATION",
        "PRELIMINARY",
        "FINAL",
        "COMMUNICATED",
        "CLOSED",
        "CANCELLED",
        "NO_SHOW",
    ]
