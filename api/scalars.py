"""Scalars stricter than strawberry's defaults where a lenient parse lets bad input through.

radflow stores aware UTC times only; a DateTime without an offset used to reach the database
layer and fail there as an internal error. Times far outside the department's calendar (year 1
or 9999) overflowed the slot arithmetic the same way. Both are now refused as invalid input.
"""

from __future__ import annotations

from datetime import UTC, datetime

import dateutil.parser
from strawberry.schema.types.base_scalars import DateTimeDefinition, wrap_parser
from strawberry.types.scalar import ScalarDefinition

EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(3000, 1, 1, tzinfo=UTC)


def parse_time(value: str) -> datetime:
    """An ISO 8601 time with an offset, between the years 1900 and 2999."""
    parsed = dateutil.parser.isoparse(value)
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise ValueError("give a UTC offset, e.g. 2026-03-02T13:00:00+00:00")
    if not EARLIEST <= parsed < LATEST:
        raise ValueError("must be between the years 1900 and 2999")
    return parsed


DateTime = ScalarDefinition(
    name=DateTimeDefinition.name,
    description=DateTimeDefinition.description,
    specified_by_url=None,
    serialize=DateTimeDefinition.serialize,
    parse_value=wrap_parser(parse_time, "DateTime", (ValueError, OverflowError)),
    parse_literal=None,
    origin=datetime,
)

SCALAR_OVERRIDES: dict[object, ScalarDefinition] = {datetime: DateTime}
