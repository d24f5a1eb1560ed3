"""Prometheus metrics of one server or worker process, in its own registry (no globals).

What records them: ``api.route_metrics`` (HTTP requests), ``stores.instrumented`` (store
operations), the workers (jobs). Nothing here needs the web stack, so a worker process
imports it without FastAPI."""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily

EXPOSITION_TYPE = "text/plain; version=0.0.4"
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

    def exposition(self) -> tuple[bytes, str]:
        """Every metric in Prometheus' text format, and that format's media type."""
        return generate_latest(self.registry), EXPOSITION_TYPE


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
