"""Prometheus metrics at /metrics: GraphQL operations, the balancer, live updates.

Each app owns one `CollectorRegistry` (tests build many apps in one process; the global default
registry would refuse the second app's metrics). Everything here is cheap on the request path:
the GraphQL view reads a clock twice, looks the document's operation name up in a dict and
updates two pre-bound children of a counter and a histogram (`CountedOperations`); gauges that
describe state (leadership, outbox lag, subscribers) are computed when Prometheus scrapes, never
on the request path.

To add a metric, add it to `Metrics` with `registry=self.registry`; a value read from
elsewhere at scrape time is a `Gauge` with `set_function`.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from graphql import GraphQLError, OperationDefinitionNode, parse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from starlette.requests import Request
from starlette.responses import Response
from strawberry.http import GraphQLRequestData
from strawberry.types import ExecutionResult

from application.planning.runner import BalancerRunner

# Operation names come from clients: past this many distinct names, new ones are counted as
# "other" so a client cannot blow up the number of time series.
MAX_OPERATION_NAMES = 200
ANONYMOUS = "anonymous"
OTHER = "other"
INVALID = "invalid"  # the document did not parse: there is no operation to name
NAME_CACHE = 512  # distinct documents whose operation name is remembered

# Seconds; GraphQL answers in 1-50 ms, a re-plan in 20 ms to 2 s.
REQUEST_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
BALANCER_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    """The metrics of one app, in its own registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.operations = Counter(
            "radflow_graphql_operations",
            "GraphQL operations by operation name, type and "
            "outcome (ok, or error when the result carries errors).",
            ["operation", "type", "outcome"],
            registry=r,
        )
        self.operation_seconds = Histogram(
            "radflow_graphql_operation_duration_seconds",
            "Time from parse to result of GraphQL queries and mutations, by operation name.",
            ["operation", "type"],
            buckets=REQUEST_BUCKETS,
            registry=r,
        )
        self.balancer_run_seconds = Histogram(
            "radflow_balancer_run_duration_seconds",
            "Wall time of one balancer run on this "
            "replica: snapshot read, solve, validation and commit.",
            buckets=BALANCER_BUCKETS,
            registry=r,
        )
        self.balancer_runs = Counter(
            "radflow_balancer_runs",
            "Balancer runs on this replica by outcome: committed, "
            "fenced (refused: another replica was elected meanwhile) or failed.",
            ["outcome"],
            registry=r,
        )
        self.balancer_leader = Gauge(
            "radflow_balancer_leader", "1 while this replica runs the balancer, else 0.", registry=r
        )
        self.balancer_epoch = Gauge(
            "radflow_balancer_epoch",
            "The leadership epoch (fencing token) this replica "
            "leads under; 0 while it does not lead.",
            registry=r,
        )
        # (operation, type) -> bound children: labels() takes a lock and hashes its labels,
        # so each pair is bound once and reused.
        self._bound: dict[tuple[str, str], tuple[Counter, Counter, Histogram]] = {}
        # (document, operationName) -> (name, type); see CountedOperations.
        self.names: dict[tuple[str, str | None], tuple[str, str]] = {}

    def operation(self, name: str, kind: str) -> tuple[Counter, Counter, Histogram]:
        """The (ok counter, error counter, latency histogram) of one operation name and type."""
        key = (name, kind)
        bound = self._bound.get(key)
        if bound is None:
            if len(self._bound) >= MAX_OPERATION_NAMES and name not in (OTHER, INVALID):
                return self.operation(OTHER, kind)
            bound = (
                self.operations.labels(name, kind, "ok"),
                self.operations.labels(name, kind, "error"),
                self.operation_seconds.labels(name, kind),
            )
            self._bound[key] = bound
        return bound

    def watch_balancer(self, runner: BalancerRunner) -> None:
        """Time each of the runner's runs; read its leadership when Prometheus scrapes."""
        runner.observers.append(self.balancer_run)
        self.balancer_leader.set_function(lambda: 1.0 if runner.leading else 0.0)
        self.balancer_epoch.set_function(
            lambda: float(runner.leadership.epoch or 0) if runner.leadership else 0.0
        )

    def balancer_run(self, seconds: float, outcome: str) -> None:
        """Record one balancer run."""
        self.balancer_runs.labels(outcome).inc()
        if outcome == "committed":
            self.balancer_run_seconds.observe(seconds)

    def exposition(self) -> bytes:
        """The registry in Prometheus' text format."""
        return generate_latest(self.registry)


def operation_of(query: str, operation_name: str | None, max_tokens: int) -> tuple[str, str]:
    """The (name, type) of the operation a request runs, or ("invalid", "query")."""
    try:
        document = parse(query, no_location=True, max_tokens=max_tokens)
    except GraphQLError:
        return INVALID, "query"
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    for operation in operations:
        name = operation.name.value if operation.name else None
        if (name == operation_name) if operation_name else len(operations) == 1:
            return name or ANONYMOUS, operation.operation.value
    return INVALID, "query"  # several operations and none named by operationName


class CountedOperations:
    """Mixin for the GraphQL view: counts and times each HTTP operation by name.

    Measured at the view rather than as a strawberry extension: strawberry builds several
    context managers per extension per request, which cost more than the measuring itself.
    The operation's name comes from a small cache keyed by the document, so each distinct
    document is parsed once here (the schema's ParserCache parses it once for execution).
    """

    metrics: Metrics | None
    max_query_tokens: int = 2_000

    async def execute_operation(self, *args: Any, **kwargs: Any) -> Any:
        """Run the operation (strawberry's own), then record it."""
        started = time.perf_counter()
        result = await super().execute_operation(*args, **kwargs)  # type: ignore[misc]
        metrics, request = self.metrics, kwargs.get("request_data")
        if (
            metrics is not None
            and isinstance(request, GraphQLRequestData)
            and isinstance(result, ExecutionResult)
        ):
            key = (request.query or "", request.operation_name)
            found = metrics.names.get(key)
            if found is None:
                if len(metrics.names) >= NAME_CACHE:
                    metrics.names.clear()
                found = metrics.names[key] = operation_of(*key, self.max_query_tokens)
            ok, error, seconds = metrics.operation(*found)
            (error if result.errors else ok).inc()
            seconds.observe(time.perf_counter() - started)
        return result


def metrics_endpoint(metrics: Metrics) -> Callable[[Request], Awaitable[Response]]:
    """The /metrics route of one app."""

    async def endpoint(_: Request) -> Response:
        return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    return endpoint


class LiveCollector:
    """Live-update figures, read from the relay, hub and transport when Prometheus scrapes."""

    def __init__(self, live: Any) -> None:  # api.live.service.Live (imported lazily: cycle)
        self.live = live

    def collect(self) -> Iterator[Any]:
        """One sample per figure."""
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        live, relay = self.live, self.live.relay
        yield GaugeMetricFamily(
            "radflow_live_subscriptions",
            "Operations running over WebSocket on this replica "
            "(subscriptions, shared or resuming).",
            value=live.active_subscriptions,
        )
        yield CounterMetricFamily(
            "radflow_live_events_published",
            "Outbox events this replica's relay published to the broker.",
            value=relay.published,
        )
        yield CounterMetricFamily(
            "radflow_live_duplicates_dropped",
            "Events this replica's hub had already delivered (dropped by event id).",
            value=live.hub.duplicates,
        )
        yield GaugeMetricFamily(
            "radflow_outbox_unpublished_events",
            "Committed events the relay has not published yet (refreshed every few seconds).",
            value=relay.last_lag.events,
        )
        yield GaugeMetricFamily(
            "radflow_outbox_lag_seconds",
            "Age of the oldest unpublished event (0 when none waits).",
            value=relay.lag_seconds(),
        )
        yield GaugeMetricFamily(
            "radflow_live_broker_up",
            "1 while the relay can publish to the broker.",
            value=1.0 if relay.healthy else 0.0,
        )
        yield GaugeMetricFamily(
            "radflow_live_broker_degraded",
            "1 while this replica cannot use the broker (its "
            "reader lost it or its relay cannot publish); the replica still serves and stays "
            "ready.",
            value=1.0 if live.broker_degraded() else 0.0,
        )


def watch_live(metrics: Metrics, live: Any) -> None:
    """Expose the live-update figures of `live` (api.live.service.Live) in `metrics`."""
    metrics.registry.register(LiveCollector(live))
