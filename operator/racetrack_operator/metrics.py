"""Prometheus metrics of the operator.

Reconcile counts, errors and durations per kind, the API requests the reconcilers made by
method and answer (client-go's ``rest_client_requests_total``: an outage of the API server
shows as ``code="<error>"``, its recovery as the 2xx that follow), and the number of Jobs per
condition, which is computed at scrape time from a small map the reconciler keeps up to date
(no gauge to forget to decrement when a Job disappears).
"""

from __future__ import annotations

import collections
from collections.abc import Iterator

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

RECONCILES = Counter(
    "racetrack_operator_reconciles",
    "Reconciliations run, by kind and result (ok, stalled, error).",
    ["kind", "result"],
)
ERRORS = Counter(
    "racetrack_operator_errors",
    "Reconciliations that failed with an unexpected error, by kind.",
    ["kind"],
)
API_REQUESTS = Counter(
    "racetrack_operator_api_requests",
    "Requests to the Kubernetes API made by the reconcilers, by method and status code "
    '("<error>" when no answer came). The watches are kopf\'s and not counted here.',
    ["method", "code"],
)
DURATION = Histogram(
    "racetrack_operator_reconcile_duration_seconds",
    "Time spent in one reconciliation, by kind.",
    ["kind"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)

TOKENS_ISSUED = Counter(
    "racetrack_operator_tokens_issued",
    "Caller tokens issued, by subject kind and why (new, reset, rotation, repair).",
    ["kind", "reason"],
)
AUTH_KEY_ROTATIONS = Counter(
    "racetrack_operator_auth_key_rotations",
    "Auth keys replaced, by cause (requested: the rotate-key-at annotation; replaced: the "
    "key Secret was deleted or emptied by hand).",
    ["cause"],
)


class JobConditions(Collector):
    """``racetrack_jobs{condition, status}``: Jobs per value of each condition."""

    def __init__(self) -> None:
        self._by_job: dict[tuple[str, str], dict[str, str]] = {}

    def record(self, namespace: str, name: str, conditions: dict[str, str]) -> None:
        self._by_job[(namespace, name)] = dict(conditions)

    def forget(self, namespace: str, name: str) -> None:
        self._by_job.pop((namespace, name), None)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "racetrack_jobs", "Jobs by condition and status.", labels=["condition", "status"]
        )
        counts: collections.Counter[tuple[str, str]] = collections.Counter()
        for conditions in list(self._by_job.values()):
            counts.update(conditions.items())
        for (condition, status), count in sorted(counts.items()):
            family.add_metric([condition, status], count)
        yield family


JOB_CONDITIONS = JobConditions()


def serve(port: int, registry: CollectorRegistry = REGISTRY) -> int:
    """Serve /metrics on all interfaces; returns the port (useful when ``port`` is 0)."""
    if JOB_CONDITIONS not in _registered:
        registry.register(JOB_CONDITIONS)
        _registered.append(JOB_CONDITIONS)
    server, _ = start_http_server(port, registry=registry)
    return int(server.server_port)


_registered: list[Collector] = []
