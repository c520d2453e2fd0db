"""Prometheus metrics: compact per-job series under the original pub's names, and the agent's.

HAProxy's own exporter writes dozens of series per server (a 24 MB scrape at 5,000 jobs);
the agent reads ``show stat`` every few seconds instead and exports only what a Racetrack
dashboard used, labelled by job name and version, computed at scrape time from the last
reading (nothing to forget when a job goes away). HAProxy's counters restart with HAProxy,
which Prometheus' ``rate()`` handles as any counter reset.

The counting series keep the original's exact names (``pub_job_proxy_requests``, not
``..._total``), so existing dashboards and alerts work: they are exported untyped, as a
typed counter would gain the ``_total`` suffix.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge
from prometheus_client.core import GaugeMetricFamily, UnknownMetricFamily
from prometheus_client.registry import Collector

from racetrack_gateway.asynccalls import AsyncCounts
from racetrack_gateway.index import ServerInfo
from racetrack_gateway.stats import RESPONSE_CLASSES, Row

JOB_LABELS = ["job_name", "job_version"]


@dataclasses.dataclass
class Reading:
    servers: Mapping[str, Row] = dataclasses.field(default_factory=dict)
    who: Mapping[str, ServerInfo] = dataclasses.field(default_factory=dict)
    frontend: Row | None = None
    #: server name -> unix time of its last call
    last_calls: Mapping[str, float] = dataclasses.field(default_factory=dict)


class JobCollector(Collector):
    def __init__(self) -> None:
        self.reading = Reading()

    def collect(self) -> Iterator[UnknownMetricFamily | GaugeMetricFamily]:
        reading = self.reading
        requests = UnknownMetricFamily(
            "pub_job_proxy_requests", "Calls forwarded to a job version.", labels=JOB_LABELS
        )
        codes = UnknownMetricFamily(
            "pub_job_proxy_response_codes",
            "Responses of a job version by status class (1xx..5xx).",
            labels=[*JOB_LABELS, "status_code"],
        )
        errors = UnknownMetricFamily(
            "pub_job_proxy_errors",
            "Calls to a job version that failed to connect or got no valid answer.",
            labels=JOB_LABELS,
        )
        timing = GaugeMetricFamily(
            "pub_job_call_response_time_average_seconds",
            "Average total time of a job version's last calls (up to 1024).",
            labels=JOB_LABELS,
        )
        last = GaugeMetricFamily(
            "pub_job_last_call_timestamp_seconds",
            "When a job version last took a call (unix time).",
            labels=JOB_LABELS,
        )
        for server, row in sorted(reading.servers.items()):
            info = reading.who.get(server)
            if info is None:
                continue
            labels = [info.family, info.version]
            requests.add_metric(labels, row.sessions)
            for response_class in RESPONSE_CLASSES:
                codes.add_metric([*labels, response_class], row.responses[response_class])
            errors.add_metric(labels, row.connect_errors + row.response_errors)
            timing.add_metric(labels, row.average_total_ms / 1000)
            if server in reading.last_calls:
                last.add_metric(labels, reading.last_calls[server])
        yield from (requests, codes, errors, timing, last)
        if reading.frontend is not None:
            answers = UnknownMetricFamily(
                "pub_responses",
                "Every answer of the gateway by status class, its own refusals included.",
                labels=["status_code"],
            )
            for response_class in RESPONSE_CLASSES:
                answers.add_metric([response_class], reading.frontend.responses[response_class])
            yield answers


class AsyncCollector(Collector):
    """The asynchronous calls' counters, read from the agent's task server at scrape time."""

    def __init__(self, counts: AsyncCounts) -> None:
        self.counts = counts

    def collect(self) -> Iterator[UnknownMetricFamily]:
        started = UnknownMetricFamily(
            "pub_async_job_calls_started", "Asynchronous calls started.", labels=JOB_LABELS
        )
        done = UnknownMetricFamily(
            "pub_async_job_calls_done",
            "Asynchronous calls ended (answered, or failed after every attempt).",
            labels=JOB_LABELS,
        )
        for (family, version), count in sorted(self.counts.started.items()):
            started.add_metric([family, version], count)
        for (family, version), count in sorted(self.counts.done.items()):
            done.add_metric([family, version], count)
        errors = UnknownMetricFamily(
            "pub_async_job_calls_errors", "Asynchronous calls that failed after every attempt."
        )
        errors.add_metric([], self.counts.errors)
        retried = UnknownMetricFamily(
            "pub_async_retried_task", "Attempts of asynchronous calls made again."
        )
        retried.add_metric([], self.counts.retried)
        yield from (started, done, errors, retried)


@dataclasses.dataclass
class AgentMetrics:
    registry: CollectorRegistry
    jobs: JobCollector
    pushes: Counter
    push_errors: Counter
    haproxy_starts: Counter
    entries: Gauge
    last_change_seconds: Gauge


def create(async_counts: AsyncCounts | None = None) -> AgentMetrics:
    registry = CollectorRegistry()
    jobs = JobCollector()
    registry.register(jobs)
    if async_counts is not None:
        registry.register(AsyncCollector(async_counts))
    return AgentMetrics(
        registry=registry,
        jobs=jobs,
        pushes=Counter(
            "pub_gateway_pushes",
            "Changes pushed to HAProxy: delta (runtime commands) or full (every table).",
            ["kind"],
            registry=registry,
        ),
        push_errors=Counter(
            "pub_gateway_push_errors",
            "Pushes HAProxy refused or did not answer.",
            registry=registry,
        ),
        haproxy_starts=Counter(
            "pub_gateway_haproxy_starts", "Times the agent started HAProxy.", registry=registry
        ),
        entries=Gauge(
            "pub_gateway_table_entries", "Entries of each table.", ["table"], registry=registry
        ),
        last_change_seconds=Gauge(
            "pub_gateway_last_push_timestamp_seconds",
            "When the tables last changed in HAProxy (unix time).",
            registry=registry,
        ),
    )
