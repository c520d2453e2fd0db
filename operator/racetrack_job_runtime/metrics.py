"""Prometheus metrics: the original wrapper's names, plus the user's own gauges.

Names are kept from the original so existing dashboards and Lifecycle-style scrapers keep
working: ``requests_started_total``, ``requests_done_total``,
``endpoint_requests_started_total{endpoint}``, ``request_internal_errors_total{endpoint}``
(every error answer of a job endpoint: 4xx and 5xx), ``request_duration{endpoint}``
(histogram, seconds) and ``last_call_timestamp``. ``endpoint`` is the path under
``/api/v1``, e.g. ``/perform``. New: ``calls_running`` and ``calls_waiting`` show the
concurrency limiter at a glance.

Each app gets its own ``CollectorRegistry`` (with the process, platform and GC collectors
added), so tests can build several apps in one process. Requests update plain numbers
(see ``EndpointMetrics``); a collector turns them into metric families when scraped.

User metrics: when the job class defines ``metrics(self)`` returning a list of
``{"name", "value", "description"?, "labels"?}``, each entry is exported as a gauge on
every scrape. Invalid entries are logged and skipped; a failing ``metrics()`` is logged
and the scrape still answers with the runtime's own metrics.
"""

from __future__ import annotations

import bisect
import itertools
import re
import time
from collections.abc import Callable, Iterable
from typing import Any

import prometheus_client
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

from racetrack_job_runtime import logs

BUCKETS = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0,
    2.5, 5.0, 7.5, 10.0, 25.0, 50.0, 75.0, 100.0, 250.0, 500.0, 750.0, 1000.0,
)  # fmt: skip
_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_LABEL = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


class EndpointMetrics:
    """Plain numbers for one endpoint, updated on the event loop thread only.

    No locks: every update happens in a request handler on the loop, so ``+=`` cannot
    race. prometheus-client's own metric objects take a lock and validate on each update,
    which measured as a visible share of a trivial call; here an update is a few attribute
    additions and one ``bisect``. The scrape copies the numbers (see ``RuntimeCollector``).
    """

    __slots__ = ("_runtime", "buckets", "count", "errors", "started_count", "total_seconds")

    def __init__(self, runtime: RuntimeMetrics) -> None:
        self._runtime = runtime
        self.started_count = 0
        self.errors = 0
        self.count = 0
        self.total_seconds = 0.0
        self.buckets = [0] * (len(BUCKETS) + 1)  # per bucket, not cumulative; last = +Inf

    def started(self) -> None:
        self._runtime.started += 1
        self.started_count += 1

    def done(self, seconds: float, failed: bool) -> None:
        runtime = self._runtime
        runtime.done += 1
        runtime.last_call = time.time()
        self.count += 1
        self.total_seconds += seconds
        self.buckets[bisect.bisect_left(BUCKETS, seconds)] += 1
        if failed:
            self.errors += 1


class RuntimeMetrics:
    def __init__(self, running: Callable[[], int], waiting: Callable[[], int]) -> None:
        registry = prometheus_client.CollectorRegistry(auto_describe=True)
        prometheus_client.ProcessCollector(registry=registry)
        prometheus_client.PlatformCollector(registry=registry)
        prometheus_client.GCCollector(registry=registry)
        self.registry = registry
        self.started = 0
        self.done = 0
        self.last_call = 0.0
        self.endpoints: dict[str, EndpointMetrics] = {}
        self.running = running
        self.waiting = waiting
        registry.register(RuntimeCollector(self))

    def endpoint(self, endpoint: str) -> EndpointMetrics:
        found = self.endpoints.get(endpoint)
        if found is None:
            found = self.endpoints[endpoint] = EndpointMetrics(self)
        return found

    def add_user_metrics(self, provider: Callable[[], Any]) -> None:
        self.registry.register(UserMetrics(provider, RESERVED_NAMES))

    def render(self) -> bytes:
        return prometheus_client.generate_latest(self.registry)


RESERVED_NAMES = frozenset(
    {
        "requests_started",
        "requests_done",
        "endpoint_requests_started",
        "request_internal_errors",
        "request_duration",
        "last_call_timestamp",
        "calls_running",
        "calls_waiting",
    }
)


class RuntimeCollector:
    """Builds the runtime's metric families from ``RuntimeMetrics`` at scrape time."""

    def __init__(self, metrics: RuntimeMetrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterable[Metric]:
        m = self.metrics
        yield CounterMetricFamily("requests_started", "Job endpoint calls started", m.started)
        yield CounterMetricFamily("requests_done", "Job endpoint calls finished", m.done)
        started = CounterMetricFamily(
            "endpoint_requests_started", "Calls started by endpoint", labels=["endpoint"]
        )
        errors = CounterMetricFamily(
            "request_internal_errors", "Error answers by endpoint", labels=["endpoint"]
        )
        duration = HistogramMetricFamily(
            "request_duration", "Call duration in seconds by endpoint", labels=["endpoint"]
        )
        for name, series in sorted(m.endpoints.items()):
            started.add_metric([name], series.started_count)
            errors.add_metric([name], series.errors)
            cumulative = list(itertools.accumulate(list(series.buckets)))
            bounds = [*(repr(float(b)) for b in BUCKETS), "+Inf"]
            duration.add_metric(
                [name], list(zip(bounds, cumulative, strict=True)), series.total_seconds
            )
        yield from (started, errors, duration)
        yield GaugeMetricFamily(
            "last_call_timestamp", "Unix time of the last finished call", m.last_call
        )
        yield GaugeMetricFamily("calls_running", "Calls running user code now", m.running())
        yield GaugeMetricFamily(
            "calls_waiting", "Calls waiting for a concurrency slot now", m.waiting()
        )


class UserMetrics:
    """A collector that asks the job instance for its gauges at scrape time."""

    def __init__(self, provider: Callable[[], Any], reserved: frozenset[str]) -> None:
        self._provider = provider
        self._reserved = reserved

    def collect(self) -> Iterable[Metric]:
        log = logs.get_logger()
        try:
            entries = self._provider()
        except Exception:
            log.exception("User metrics() failed; its metrics are skipped in this scrape")
            return []
        families: dict[str, GaugeMetricFamily] = {}
        label_names: dict[str, tuple[str, ...]] = {}
        for entry in entries if isinstance(entries, list) else []:
            problem = _problem(entry, self._reserved)
            if problem:
                log.error("Skipped a user metric: %s", problem, extra={"fields": {"entry": entry}})
                continue
            if entry["value"] is None:
                continue
            name = entry["name"]
            labels = {str(k): str(v) for k, v in (entry.get("labels") or {}).items()}
            keys = tuple(sorted(labels))
            family = families.get(name)
            if family is None:
                description = str(entry.get("description") or name)
                family = families[name] = GaugeMetricFamily(name, description, labels=keys)
                label_names[name] = keys
            elif label_names[name] != keys:
                log.error("Skipped a user metric: %s changes its label names", name)
                continue
            family.add_metric([labels[k] for k in keys], float(entry["value"]))
        return list(families.values())


def _problem(entry: Any, reserved: frozenset[str]) -> str | None:
    if not isinstance(entry, dict) or "name" not in entry or "value" not in entry:
        return "each entry must be a dict with 'name' and 'value'"
    name = entry["name"]
    if not isinstance(name, str) or not _NAME.match(name):
        return f"{name!r} is not a valid metric name"
    if name in reserved:
        return f"{name!r} is a runtime metric name"
    labels = entry.get("labels") or {}
    if not isinstance(labels, dict) or not all(_LABEL.match(str(k)) for k in labels):
        return f"{name}: labels must be a dict with valid label names"
    value = entry["value"]
    if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
        return f"{name}: value must be a number"
    return None
