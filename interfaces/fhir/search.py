"""FHIR search parameters as SQL conditions: token, string, date and reference, with paging.

A parameter given twice must match both times (AND); a comma inside one value is an OR. An
unknown parameter, modifier or prefix is refused (400) rather than ignored: a filter silently
dropped would hand a caller more patient records than they asked for.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa

from interfaces.fhir.outcome import FhirError

DEFAULT_COUNT = 20
MAX_COUNT = 100
CONTROL = ("_count", "_cursor", "_format")  # paging and format: not filters
FORMATS = ("json", "application/json", "application/fhir+json")
MAX_VALUES = 100  # values of one parameter (a comma list), and parameters of one search

Clause = Callable[[str], sa.ColumnElement[bool]]


@dataclass(frozen=True)
class SearchParameter:
    """A search parameter of a resource: its FHIR type, what it searches, and its condition."""

    name: str
    type: str  # FHIR search parameter type: token, string, date, reference
    documentation: str
    clause: Clause  # one value (without commas) -> SQL condition


def by_name(*parameters: SearchParameter) -> dict[str, SearchParameter]:
    """A resource type's search parameters, each under its own name."""
    named = {p.name: p for p in parameters}
    if len(named) != len(parameters):
        raise ValueError("a search parameter is declared twice")
    return named


def logical_id(resource: str, column: sa.ColumnElement[Any]) -> SearchParameter:
    """`_id`: the resource's logical id."""
    return SearchParameter("_id", "token", "The logical id.", reference("_id", resource, column))


def reference_parameter(
    name: str, resource: str, column: sa.ColumnElement[Any], documentation: str
) -> SearchParameter:
    """A reference parameter to `resource` by logical id."""
    return SearchParameter(name, "reference", documentation, reference(name, resource, column))


def date_parameter(
    name: str, column: sa.ColumnElement[Any], documentation: str, *, day_column: bool = False
) -> SearchParameter:
    """A date parameter over a timestamp column (or a calendar date column)."""
    return SearchParameter(
        name, "date", documentation, date_clause(name, column, day_column=day_column)
    )


def conditions(
    resource: str, parameters: dict[str, SearchParameter], query: Sequence[tuple[str, str]]
) -> list[sa.ColumnElement[bool]]:
    """The SQL conditions of a search's query string (paging controls left out)."""
    where = []
    if len(query) > MAX_VALUES:
        raise FhirError.one(400, "too-costly", f"at most {MAX_VALUES} search parameters")
    for name, raw in query:
        if name == "_format" and raw not in FORMATS:
            raise FhirError.one(400, "not-supported", "radflow answers in JSON only", name)
        if name in CONTROL:
            continue
        parameter = parameters.get(name)
        if parameter is None:
            known = ", ".join(sorted(parameters))
            raise FhirError.one(
                400,
                "not-supported",
                f"{resource} has no search parameter {name!r} here (supported: {known})",
                name,
            )
        values = [v for v in raw.split(",") if v]
        if not values:
            raise FhirError.one(400, "invalid", f"{name} needs a value", name)
        if len(values) > MAX_VALUES:
            raise FhirError.one(400, "too-costly", f"at most {MAX_VALUES} values", name)
        where.append(sa.or_(*(parameter.clause(v) for v in values)))
    return where


def page_size(query: Sequence[tuple[str, str]]) -> int:
    """`_count`: 1 to 100 (default 20)."""
    given = [v for k, v in query if k == "_count"]
    if not given:
        return DEFAULT_COUNT
    try:
        count = int(given[-1])
    except ValueError:
        raise FhirError.one(400, "invalid", "_count must be a whole number", "_count") from None
    if not 1 <= count <= MAX_COUNT:
        raise FhirError.one(400, "invalid", f"_count must be between 1 and {MAX_COUNT}", "_count")
    return count


def cursor(query: Sequence[tuple[str, str]]) -> int:
    """`_cursor`: the id after which the page starts (from a Bundle's `next` link)."""
    given = [v for k, v in query if k == "_cursor"]
    if not given:
        return 0
    if not given[-1].isdigit() or len(given[-1]) > 18:
        raise FhirError.one(400, "invalid", "_cursor is not one this server made", "_cursor")
    return int(given[-1])


def token(value: str) -> tuple[str | None, str]:
    """`system|code`, `|code` (no system) or `code` (any system) -> (system or None, code)."""
    if "|" not in value:
        return None, value
    system, _, code = value.partition("|")
    return system, code


def plain_token(name: str, column: sa.ColumnElement[Any], allowed: Sequence[str]) -> Clause:
    """A token parameter over a column holding one of `allowed` (given bare)."""

    def clause(value: str) -> sa.ColumnElement[bool]:
        _, code = token(value)
        if code not in allowed:
            raise FhirError.one(400, "invalid", f"{name} must be one of {', '.join(allowed)}", name)
        return column == code

    return clause


def string_starts(*columns: sa.ColumnElement[Any]) -> Clause:
    """A string parameter: any of the columns starts with the value, ignoring case."""
    return lambda value: sa.or_(
        *(sa.func.lower(c).startswith(value.lower(), autoescape=True) for c in columns)
    )


_DATE = re.compile(
    r"^(?P<prefix>eq|ne|gt|lt|ge|le)?"
    r"(?P<year>\d{4})(-(?P<month>\d{2})(-(?P<day>\d{2})"
    r"(T(?P<hour>\d{2}):(?P<minute>\d{2})(:(?P<second>\d{2})(\.\d+)?)?"
    r"(?P<zone>Z|[+-]\d{2}:\d{2})?)?)?)?$"
)


def date_range(name: str, value: str) -> tuple[str, datetime, datetime]:
    """A date parameter's prefix and the range its precision stands for: [start, end)."""
    found = _DATE.match(value)
    if found is None:
        raise FhirError.one(
            400,
            "invalid",
            f"{name} must be a FHIR date such as 2026-03-02, ge2026-03 or lt2026-03-02T10:00Z",
            name,
        )
    parts = found.groupdict()
    try:
        year = int(parts["year"])
        if parts["month"] is None:
            start, end = datetime(year, 1, 1), datetime(year + 1, 1, 1)
        elif parts["day"] is None:
            month = int(parts["month"])
            start = datetime(year, month, 1)
            end = datetime(year + month // 12, month % 12 + 1, 1)
        elif parts["hour"] is None:
            start = datetime(year, int(parts["month"]), int(parts["day"]))
            end = start + timedelta(days=1)
        else:
            start = datetime(
                year,
                int(parts["month"]),
                int(parts["day"]),
                int(parts["hour"]),
                int(parts["minute"]),
                int(parts["second"] or 0),
            )
            end = start + (timedelta(seconds=1) if parts["second"] else timedelta(minutes=1))
    except ValueError:
        raise FhirError.one(400, "invalid", f"{name}: {value} is not a date", name) from None
    zone = parts["zone"]
    offset = timedelta()
    if zone and zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        offset = sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6]))
    # A value without a zone is read as UTC (the department's stored times are UTC).
    start, end = (t.replace(tzinfo=UTC) - offset for t in (start, end))
    return parts["prefix"] or "eq", start, end


def date_clause(name: str, column: sa.ColumnElement[Any], *, day_column: bool = False) -> Clause:
    """A date parameter over a timestamp column (or a calendar date column)."""

    def clause(value: str) -> sa.ColumnElement[bool]:
        prefix, start, end = date_range(name, value)
        low: datetime | date = start.date() if day_column else start
        high: datetime | date = end.date() if day_column else end
        if day_column and (start.time(), end.time()) != (time(), time()):
            raise FhirError.one(400, "invalid", f"{name} is a date without a time", name)
        if prefix == "eq":
            return sa.and_(column >= low, column < high)
        if prefix == "ne":
            return sa.or_(column < low, column >= high)
        if prefix == "ge":
            return column >= low
        if prefix == "gt":
            return column >= high
        if prefix == "le":
            return column < high
        return column < low  # lt

    return clause


def reference(name: str, resource: str, column: sa.ColumnElement[Any]) -> Clause:
    """A reference parameter to `resource` by logical id: `123` or `Patient/123`."""

    def clause(value: str) -> sa.ColumnElement[bool]:
        kind, _, key = value.rpartition("/")
        wrong_type = bool(kind) and kind.split("/")[-1] != resource
        if wrong_type or not key.isdigit() or len(key) > 18:
            raise FhirError.one(
                400, "invalid", f"{name} must be a {resource} id ({resource}/123 or 123)", name
            )
        return column == int(key)

    return clause


def identifier(name: str, pairs: Sequence[tuple[str, sa.ColumnElement[Any]]]) -> Clause:
    """An identifier token: `system|value` matches that system's column; a bare value any."""

    def clause(value: str) -> sa.ColumnElement[bool]:
        system, code = token(value)
        if not code:
            raise FhirError.one(400, "invalid", f"{name} needs a value", name)
        matches = [column == code for s, column in pairs if system is None or s == system]
        return sa.or_(*matches) if matches else sa.false()

    return clause
