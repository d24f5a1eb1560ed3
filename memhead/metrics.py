"""Prometheus metrics of one server or worker process, in its own registry (no globals)."""

from __future__ import annotations

import bisect
import functools
import inspect
import itertools
import time
from collections.abc import Iterator, Sequence
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount
from starlette.types import Scope

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = HotCounter(
            "memhead_http_requests", "HTTP requests", ("route", "method", "status")
        )
        self.latency = HotHistogram(
            "memhead_http_request_duration_seconds", "HTTP request latency", ("route", "method")
        )
        self.store_latency = HotHistogram(
            "memhead_store_operation_duration_seconds",
            "Store operation latency",
            ("backend", "operation"),
        )
        for hot in (self.requests, self.latency, self.store_latency):
            r.register(hot)
        self.jobs = Counter(
            "memhead_jobs", "Background jobs by kind and result", ["kind", "result"], registry=r
        )
        self.job_duration = Histogram(
            "memhead_job_duration_seconds", "Background job duration", ["kind"], registry=r
        )
        self.pending = Gauge(
            "memhead_jobs_pending",
            "Background work found due at the last look",
            ["kind"],
            registry=r,
        )
        self.provider_tokens = Counter(
            "memhead_provider_tokens", "Tokens providers reported for summaries", registry=r
        )

    async def endpoint(self, request: Request) -> Response:
        return Response(generate_latest(self.registry), media_type="text/plain; version=0.0.4")


class HotCounter:
    """A counter updated on every request. prometheus_client takes a lock on each update,
    which showed in the load profile; these are plain numbers, written only from the event
    loop's thread, and turned into a metric family when ``/metrics`` is read."""

    def __init__(self, name: str, documentation: str, labels: tuple[str, ...]) -> None:
        self.name = name
        self.documentation = documentation
        self.labels = labels
        self.counts: dict[tuple[str, ...], int] = {}

    def inc(self, values: tuple[str, ...]) -> None:
        self.counts[values] = self.counts.get(values, 0) + 1

    def collect(self) -> Iterator[CounterMetricFamily]:
        family = CounterMetricFamily(self.name, self.documentation, labels=self.labels)
        for values, count in list(self.counts.items()):
            family.add_metric(values, count)
        yield family


class HotHistogram:
    """A latency histogram updated on every request, kept like ``HotCounter``. A series is
    ``[count in bucket 0, ..., count above the last bound, sum]``."""

    def __init__(self, name: str, documentation: str, labels: tuple[str, ...]) -> None:
        self.name = name
        self.documentation = documentation
        self.labels = labels
        self.series: dict[tuple[str, ...], list[float]] = {}

    def child(self, values: tuple[str, ...]) -> list[float]:
        series = self.series.get(values)
        if series is None:
            series = self.series[values] = [0] * (len(LATENCY_BUCKETS) + 1) + [0.0]
        return series

    @staticmethod
    def observe(series: list[float], seconds: float) -> None:
        series[bisect.bisect_left(LATENCY_BUCKETS, seconds)] += 1
        series[-1] += seconds

    def collect(self) -> Iterator[HistogramMetricFamily]:
        family = HistogramMetricFamily(self.name, self.documentation, labels=self.labels)
        bounds = [str(float(b)) for b in LATENCY_BUCKETS] + ["+Inf"]
        for values, series in list(self.series.items()):
            cumulative = list(itertools.accumulate(series[:-1]))
            family.add_metric(values, list(zip(bounds, cumulative, strict=True)), series[-1])
        yield family


class RequestMetrics:
    """Counts and times HTTP requests by route template (never by session id)."""

    def __init__(self, metrics: Metrics, routes: Sequence[BaseRoute]) -> None:
        self.metrics = metrics
        self.routes = routes
        self._templates: dict[Any, str] | None = None

    def observe(self, scope: Scope, status: int, seconds: float) -> None:
        route = self._route_name(scope)
        method = scope["method"]
        self.metrics.requests.inc((route, method, str(status)))
        self.metrics.latency.observe(self.metrics.latency.child((route, method)), seconds)

    def _route_name(self, scope: Scope) -> str:
        """The template of the route that served the request. The router leaves the matched
        endpoint in the scope (not the route), so the template is looked up by endpoint
        instead of matching the path a second time."""
        if self._templates is None:
            self._templates = dict(_endpoint_templates(self.routes, ""))
        return self._templates.get(scope.get("endpoint"), "unmatched")


def _endpoint_templates(routes: Sequence[BaseRoute], prefix: str) -> list[tuple[Any, str]]:
    """``(endpoint, path template)`` of every route, inside included routers too."""
    found: list[tuple[Any, str]] = []
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:  # FastAPI's wrapper around an included APIRouter
            found += _endpoint_templates(included.routes, prefix + route.include_context.prefix)  # type: ignore[attr-defined]
        elif isinstance(route, Mount):  # the router leaves the mounted app as the endpoint
            found.append((route.app, f"{prefix}{route.path}/{{path:path}}"))
        elif hasattr(route, "endpoint"):
            found.append((route.endpoint, prefix + str(getattr(route, "path", ""))))
    return found


class _InstrumentedStore:
    """A store whose every coroutine method is timed into ``store_latency``."""

    def __init__(self, store: Any, metrics: Metrics) -> None:
        self._store = store
        self._metrics = metrics
        self.backend = store.backend

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._store, name)
        if not inspect.iscoroutinefunction(attr):
            return attr
        histogram = self._metrics.store_latency
        series = histogram.child((self.backend, name))

        @functools.wraps(attr)
        async def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return await attr(*args, **kwargs)
            finally:
                histogram.observe(series, time.perf_counter() - start)

        setattr(self, name, timed)  # built once per method, then found directly
        return timed


def instrument(store: Any, metrics: Metrics) -> Any:
    """``store`` with its operation latency recorded (same protocol, same behaviour)."""
    return _InstrumentedStore(store, metrics)
