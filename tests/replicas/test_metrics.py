"""Prometheus metrics at /metrics: operations counted and timed by name, bounded labels."""

from __future__ import annotations

import re

import pytest

from api.observability import INVALID, MAX_OPERATION_NAMES, OTHER, Metrics, operation_of
from tests.conftest import Api


def sample(text: str, name: str, **labels: str) -> float | None:
    """The value of one sample in Prometheus' text format, or None when it is absent."""
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        match = re.fullmatch(r"(\w+)(?:\{(.*)\})? (\S+)", line)
        if match and match[1] == name:
            found = ",".join(sorted((match[2] or "").split(","))) if match[2] else ""
            if found == wanted:
                return float(match[3])
    return None


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_operations_are_counted_and_timed_by_name(api: Api) -> None:
    for _ in range(3):
        await api.data("query SitesForTest { sites { code } }")
    await api.data("{ __typename }")
    broken = await api.graphql("query Broken { noSuchField }")
    assert "errors" in broken
    text = (await api.client.get("/metrics")).text
    count = "radflow_graphql_operations_total"
    assert sample(text, count, operation="SitesForTest", type="query", outcome="ok") == 3
    assert sample(text, count, operation="anonymous", type="query", outcome="ok") == 1
    assert sample(text, count, operation="Broken", type="query", outcome="error") == 1
    assert (
        sample(
            text,
            "radflow_graphql_operation_duration_seconds_count",
            operation="SitesForTest",
            type="query",
        )
        == 3
    )
    assert sample(text, "radflow_balancer_leader") is not None


def test_client_chosen_operation_names_cannot_grow_the_series_without_bound() -> None:
    metrics = Metrics()
    for i in range(MAX_OPERATION_NAMES + 50):
        ok, _, _ = metrics.operation(f"Op{i}", "query")
        ok.inc()
    text = metrics.exposition().decode()
    names = set(re.findall(r'operation="([^"]+)"', text))
    assert len(names) <= MAX_OPERATION_NAMES + 1
    assert (
        sample(
            text, "radflow_graphql_operations_total", operation=OTHER, type="query", outcome="ok"
        )
        == 50
    )


def test_each_app_has_its_own_registry() -> None:
    first, second = Metrics(), Metrics()  # the default registry would refuse the second
    first.operation("A", "query")[0].inc()
    assert "A" not in second.exposition().decode()


def test_the_operation_is_named_as_graphql_would_pick_it() -> None:
    document = "query A { sites { code } } mutation B { rebalanceNow { stale } }"
    assert operation_of(document, "B", 2_000) == ("B", "mutation")
    assert operation_of(document, None, 2_000) == (INVALID, "query")  # ambiguous
    assert operation_of("{ sites { code } }", None, 2_000) == ("anonymous", "query")
    assert operation_of("query {", None, 2_000) == (INVALID, "query")
    assert operation_of("{ a b c d e }", None, 3) == (INVALID, "query")  # past the token cap
