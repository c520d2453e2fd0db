"""Prometheus metrics of the webhooks (plain HTTP on their own port, as the operator's)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram, start_http_server

#: Fine buckets below 25 ms: admission answers are expected in a few milliseconds, and the
#: benchmark reads its percentiles from this histogram.
LATENCY_BUCKETS = (
    0.0005, 0.001, 0.0015, 0.002, 0.003, 0.004, 0.005, 0.0075, 0.01, 0.0125, 0.015,
    0.02, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
)  # fmt: skip

ADMISSION_SECONDS = Histogram(
    "racetrack_webhooks_admission_seconds",
    "Time from an AdmissionReview received to the answer sent, in seconds.",
    ["webhook", "kind", "operation"],
    buckets=LATENCY_BUCKETS,
)
REFUSALS = Counter(
    "racetrack_webhooks_refusals_total",
    "Admission requests refused, by kind and the HTTP code of the refusal.",
    ["kind", "operation", "code"],
)
AUDIT_EVENTS_WRITTEN = Counter(
    "racetrack_webhooks_audit_events_written_total",
    "AuditEvents written, by action.",
    ["action"],
)
AUDIT_EVENTS_PRUNED = Counter(
    "racetrack_webhooks_audit_events_pruned_total",
    "AuditEvents deleted by retention or dropped as pending deletions that never happened.",
    ["why"],
)


def serve(port: int) -> int:
    """Serve /metrics on all interfaces; returns the port (useful when ``port`` is 0)."""
    server, _ = start_http_server(port)
    return int(server.server_port)
