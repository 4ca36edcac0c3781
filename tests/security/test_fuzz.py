"""A bounded schemathesis run against real uvicorn (the long one: `python -m bench.fuzz`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.fuzz import Report, check, run
from tests.conftest import POSTGRES_URL, need_service

OPERATIONS = 300


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_generated_operations_meet_no_server_error_and_no_leaked_detail(
    backend: str, tmp_path: Path
) -> None:
    if backend == "postgresql" and not POSTGRES_URL:
        need_service("PostgreSQL", "TEST_DATABASE_URL")
    url = POSTGRES_URL if backend == "postgresql" else f"sqlite:///{tmp_path / 'fuzz.db'}"
    assert url is not None
    report = run(url, OPERATIONS, workdir=tmp_path)
    assert report.operations >= OPERATIONS
    assert report.server_errors == 0 and report.failures == [], report.as_json()
    # Positive, negative and stateful cases all reached the API and were answered.
    kinds = {outcome.split()[0] for outcome in report.outcomes}
    assert kinds == {"query", "mutation", "stateful"}, report.outcomes


@pytest.mark.parametrize(
    ("status", "content", "problem"),
    [
        (500, b"Internal Server Error", "HTTP 500"),
        (200, b"<html>", "not JSON"),
        (
            200,
            b'{"errors": [{"message": "Internal server error", "extensions": '
            b'{"code": "INTERNAL_SERVER_ERROR", "correlationId": "ab"}}]}',
            "masked",
        ),
        (
            200,
            b'{"data": null, "errors": [{"message": "\'NoneType\' object has no attribute '
            b"'id'\"}]}",
            "leaked",
        ),
        (200, b'{"errors": [{"message": "(sqlite3.OperationalError) no such table"}]}', "leaked"),
    ],
)
def test_the_fuzzer_recognises_each_kind_of_failure(
    status: int, content: bytes, problem: str
) -> None:
    report = Report()
    check(report, "Query.sites", {"query": "{ sites { code } }"}, status, content)
    assert len(report.failures) == 1 and problem in report.failures[0]["problem"]


def test_deliberate_errors_are_not_failures() -> None:
    report = Report()
    for content in [
        b'{"data": null, "errors": [{"message": "Int cannot represent non-integer value: 1.5"}]}',
        b'{"data": {"placeOrder": {"__typename": "ValidationFailed"}}}',
        b'{"data": null, "errors": [{"message": "Syntax Error: Unexpected Name"}]}',
    ]:
        check(report, "Query.exams", {}, 200, content)
    check(report, "Query.exams", {}, 413, b"too large")
    assert report.failures == [] and report.operations == 4
