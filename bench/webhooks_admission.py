"""What the admission webhooks cost: their answer time under a burst of Job applies, and what
they add to apply -> Ready, against the same burst without them in the same run.

Run: ``python bench/webhooks_admission.py [--burst 200] [--rounds 1]``

One fresh local control plane (simulated nodes) with the operator running. Each burst applies
N Jobs at once (server-side apply, 16 parallel clients) into a namespace of its own and waits
until every Job is Ready. Three sides, each round in the order without, floor, ours, ours,
floor, without, so a drift of the machine during the run weighs on all alike:

- without: no webhook process and no webhook configuration;
- floor: ``bench/floor_webhook.py``, the least webhook on the same stack (uvicorn, uvloop, the
  same certificate), allowing everything, registered with our configurations' rules, policies
  and matchConditions for Jobs: what having a webhook at all costs on this machine;
- ours: the webhooks running and registered exactly as ``racetrack dev up`` does, the auditor
  writing the burst's AuditEvents.

Reported:
- admission latency, from our webhooks' own histogram (request received to answer sent, per
  webhook): p50 and p99 (interpolated within buckets, as Prometheus' histogram_quantile does)
  and the slowest bucket reached; the target is p99 under 20 ms, every answer well under the
  5 s timeout;
- the API server's view of each webhook call, ours and the floor's (its own histogram, coarse
  buckets), which adds TLS, the network and waiting for a CPU;
- each apply request's latency at the client, and the time until all N are Ready, per side,
  with ratios against "without".

The machine's load average is printed at the start and the end: on a shared machine the
absolute figures move with it, the same-run ratios much less.
"""

from __future__ import annotations

import argparse
import os
import re
import ssl
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client

from jobs_convergence import ReadyTracker, _job_ready, job_manifest, percentile
from racetrack_devcluster import addons
from racetrack_devcluster.build import BinaryCache
from racetrack_devcluster.launcher import ClusterOptions, LocalCluster
from racetrack_devcluster.processes import Component, wait_until
from racetrack_devcluster.webhooks import PLATFORM_NAMESPACE, DevWebhooks
from runtime_throughput import cpu_seconds

GROUP, VERSION, PLURAL = "racetrack.io", "v1alpha1", "jobs"
PARALLEL_CLIENTS = 16
_SAMPLE = re.compile(r"^(\w+)\{([^}]*)\} (\S+)$")

Buckets = dict[str, dict[float, float]]  # series -> upper bound -> cumulative count


def histogram(text: str, metric: str, series: str, **match: str) -> Buckets:
    """Cumulative bucket counts of ``metric``, summed per value of the label ``series``."""
    found: Buckets = defaultdict(lambda: defaultdict(float))
    for line in text.splitlines():
        sample = _SAMPLE.match(line)
        if sample is None or sample.group(1) != f"{metric}_bucket":
            continue
        labels = dict(re.findall(r'(\w+)="([^"]*)"', sample.group(2)))
        if any(labels.get(key) != value for key, value in match.items()):
            continue
        bound = float("inf") if labels["le"] == "+Inf" else float(labels["le"])
        found[labels.get(series, "")][bound] += float(sample.group(3))
    return {key: dict(value) for key, value in found.items()}


def difference(after: Buckets, before: Buckets) -> Buckets:
    return {
        key: {bound: count - before.get(key, {}).get(bound, 0.0) for bound, count in counts.items()}
        for key, counts in after.items()
    }


def quantile(buckets: dict[float, float], fraction: float) -> float:
    """Prometheus' histogram_quantile: linear within the bucket holding the rank."""
    bounds = sorted(buckets)
    total = buckets[bounds[-1]]
    if total == 0:
        return float("nan")
    rank = fraction * total
    lower_bound, lower_count = 0.0, 0.0
    for bound in bounds:
        count = buckets[bound]
        if count >= rank:
            if bound == float("inf"):
                return lower_bound
            inside = count - lower_count
            return lower_bound + (bound - lower_bound) * (
                (rank - lower_count) / inside if inside else 1
            )
        lower_bound, lower_count = bound, count
    return bounds[-1]


def slowest(buckets: dict[float, float]) -> float:
    """The upper bound of the highest bucket any answer fell into."""
    total = buckets[max(buckets)]
    return min(bound for bound, count in buckets.items() if count >= total)


def fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as answer:
        return str(answer.read().decode())


class Burst:
    """N Jobs applied at once into a fresh namespace; their latencies and time to Ready."""

    def __init__(self, cluster: LocalCluster, api: Any, namespace: str, count: int) -> None:
        self.cluster = cluster
        self.custom = client.CustomObjectsApi(api)
        self.namespace = namespace
        self.count = count
        body: Any = {"metadata": {"name": namespace}}  # plain dicts are sent as they are
        client.CoreV1Api(api).create_namespace(body)

        def list_jobs(**kw: Any):  # type: ignore[no-untyped-def]  # see ReadyTracker
            return self.custom.list_namespaced_custom_object(
                GROUP, VERSION, namespace, PLURAL, **kw
            )

        self.tracker = ReadyTracker(list_jobs, _job_ready)
        self.latencies: list[float] = []
        self.ready = 0.0
        self.cpu = 0.0
        """CPU seconds the webhook server used, from the first apply to the last audit event."""
        self._lock = threading.Lock()

    def apply(self, index: int) -> None:
        body = job_manifest(index, "job")
        body["metadata"]["namespace"] = self.namespace
        started = time.monotonic()
        self.custom.patch_namespaced_custom_object(
            GROUP, VERSION, self.namespace, PLURAL, body["metadata"]["name"], body,
            field_manager="bench", force=True, _content_type="application/apply-patch+yaml",
        )  # fmt: skip
        with self._lock:
            self.latencies.append(time.monotonic() - started)

    def run(self) -> None:
        started = time.monotonic()
        with ThreadPoolExecutor(PARALLEL_CLIENTS) as pool:
            list(pool.map(self.apply, range(self.count)))
        names = {f"job-{i}" for i in range(self.count)}
        self.tracker.wait_for(names, timeout=900)
        self.tracker.stop()
        self.ready = max(self.tracker.ready_at[name] for name in names) - started

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies)

    @property
    def p99(self) -> float:
        return percentile(self.latencies, 0.99)


def audit_events(cluster: LocalCluster, namespace: str) -> int:
    out = cluster.kubectl(
        "get", "auditevents", "-n", PLATFORM_NAMESPACE, "-l",
        f"racetrack.io/namespace={namespace}", "-o", "name",
    ).stdout  # fmt: skip
    return len(out.split())


class Histograms:
    """Bucket counts added up per side: our webhooks' own, and the API server's per call."""

    OURS = "racetrack_webhooks_admission_seconds"
    THEIRS = "apiserver_admission_webhook_admission_duration_seconds"

    def __init__(self, cluster: LocalCluster, webhooks: DevWebhooks) -> None:
        self.cluster = cluster
        self.webhooks = webhooks
        self.ours: Buckets = {}
        self.theirs: Buckets = {}
        self._before = ""
        self._ours_before = ""

    def start(self, ours: bool) -> None:
        self._before = self.cluster.kubectl("get", "--raw", "/metrics").stdout
        self._ours_before = fetch(self.webhooks.metrics_url) if ours else ""

    def stop(self) -> None:
        after = self.cluster.kubectl("get", "--raw", "/metrics").stdout
        theirs = [
            histogram(text, self.THEIRS, "name", operation="CREATE")
            for text in (after, self._before)
        ]
        _add(self.theirs, difference(*theirs))
        if self._ours_before:
            ours = [
                histogram(text, self.OURS, "webhook", kind="Job")
                for text in (fetch(self.webhooks.metrics_url), self._ours_before)
            ]
            _add(self.ours, difference(*ours))


def _add(total: Buckets, more: Buckets) -> None:
    for key, counts in more.items():
        into = total.setdefault(key, {})
        for bound, count in counts.items():
            into[bound] = into.get(bound, 0.0) + count


class Floor:
    """bench/floor_webhook.py, registered like ours for Jobs."""

    NAME = "racetrack-webhooks-floor"

    def __init__(self, cluster: LocalCluster, webhooks: DevWebhooks) -> None:
        self.cluster = cluster
        self.webhooks = webhooks
        self.port = cluster.ports.claim("floor webhook")
        self.component: Component | None = None

    def start(self) -> None:
        argv = [sys.executable, str(Path(__file__).with_name("floor_webhook.py")),
                self.webhooks.host, str(self.port), str(self.webhooks.cert),
                str(self.webhooks.key)]  # fmt: skip
        self.component = Component("floor-webhook", argv, self.cluster.log_dir / "floor.log")
        self.component.start()
        url = f"https://{self.webhooks.host}:{self.port}/readyz"
        context = ssl.create_default_context(cafile=str(self.webhooks.ca))
        wait_until("the floor webhook", lambda: _ok(url, context), 30, [self.component])
        configurations = []
        for configuration in self.webhooks.configurations():
            configuration["metadata"]["name"] = self.NAME
            hooks = [
                w for w in configuration["webhooks"] if w["name"].startswith(("stamp", "jobs"))
            ]
            for webhook in hooks:
                webhook["name"] = "floor-" + webhook["name"]
                webhook["clientConfig"]["url"] = f"https://{self.webhooks.host}:{self.port}/admit"
                for rule in webhook["rules"]:
                    rule["resources"] = ["jobs"]
            configuration["webhooks"] = hooks
            configurations.append(configuration)
        self.cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(configurations))

    def stop(self) -> None:
        for kind in ("mutatingwebhookconfiguration", "validatingwebhookconfiguration"):
            self.cluster.kubectl("delete", kind, self.NAME, "--ignore-not-found")
        if self.component is not None:
            self.component.stop()


def _ok(url: str, context: ssl.SSLContext) -> bool:
    with urllib.request.urlopen(url, context=context, timeout=2) as answer:
        return bool(answer.status == 200)


SIDES = ("without", "floor", "ours")


def run(
    args: argparse.Namespace, cluster: LocalCluster
) -> tuple[dict[str, list[Burst]], dict[str, Histograms]]:
    addons.start_operator(cluster)
    api = cluster.api_client()
    webhooks = DevWebhooks(cluster)
    webhooks.prepare()
    floor = Floor(cluster, webhooks)
    histograms = {side: Histograms(cluster, webhooks) for side in SIDES}
    bursts: dict[str, list[Burst]] = defaultdict(list)
    order = [*SIDES, *reversed(SIDES)] * args.rounds
    for number, side in enumerate(order, start=1):
        namespace = f"bench-{number}-{side}"
        if side == "ours":
            webhooks.start()
            webhooks.register()
            webhooks.wait_registered()
        elif side == "floor":
            floor.start()
            time.sleep(2)  # the API server picks up a configuration within a second
        histograms[side].start(ours=side == "ours")
        server = {"ours": webhooks.component, "floor": floor.component}.get(side)
        cpu_before = cpu_seconds(server.pid or 0) if server else 0.0
        burst = Burst(cluster, api, namespace, args.burst)
        burst.run()
        histograms[side].stop()
        bursts[side].append(burst)
        line = (
            f"  burst {number} ({side:<7}): apply p50 {burst.p50 * 1000:6.1f} ms   p99 "
            f"{burst.p99 * 1000:6.1f} ms   all {args.burst} Ready after {burst.ready:5.1f} s"
        )
        if side == "ours":
            # The auditor finishes this burst's events before the next burst starts.
            deadline = time.monotonic() + 120
            while audit_events(cluster, namespace) < args.burst and time.monotonic() < deadline:
                time.sleep(0.5)
            line += f"   audit events written: {audit_events(cluster, namespace)}"
        if server is not None:
            burst.cpu = cpu_seconds(server.pid or 0) - cpu_before
            line += f"   webhook CPU {burst.cpu:.1f} s"
        if side == "ours":
            webhooks.unregister()
            webhooks.stop()
        elif side == "floor":
            floor.stop()
        print(line, flush=True)
    return bursts, histograms


def report(
    args: argparse.Namespace, bursts: dict[str, list[Burst]], histograms: dict[str, Histograms]
) -> None:
    print(
        f"\nAdmission latency under bursts of {args.burst} Job applies (our webhooks' own "
        "histogram, request received to answer sent; target p99 < 20 ms, timeout 5 s):"
    )
    for webhook, counts in sorted(histograms["ours"].ours.items()):
        print(
            f"  {webhook:<9} {int(counts[float('inf')]):5d} answers   "
            f"p50 {quantile(counts, 0.5) * 1000:5.2f} ms   "
            f"p99 {quantile(counts, 0.99) * 1000:5.2f} ms   "
            f"slowest under {slowest(counts) * 1000:.1f} ms"
        )
    print("The API server's view of each call (TLS, network and waiting for a CPU included):")
    for side in ("ours", "floor"):
        for name, counts in sorted(histograms[side].theirs.items()):
            if "racetrack" in name and counts.get(float("inf")):
                print(
                    f"  {name:<40} {int(counts[float('inf')]):5d} calls   "
                    f"p50 {quantile(counts, 0.5) * 1000:5.1f} ms   "
                    f"p99 {quantile(counts, 0.99) * 1000:5.1f} ms   "
                    f"slowest under {slowest(counts) * 1000:.0f} ms"
                )
    for side in ("ours", "floor"):
        used = sum(burst.cpu for burst in bursts[side])
        applies = sum(burst.count for burst in bursts[side])
        print(
            f"Webhook server CPU per Job apply, {side}: {1000 * used / applies:.2f} ms "
            "(answers, watches" + (", audit events)" if side == "ours" else ")")
        )
    print(f"Apply -> Ready, over {len(bursts['ours'])} bursts per side (ratio against without):")
    without = _summary(bursts["without"])
    labels = ("apply request p50", "apply request p99", f"all {args.burst} Ready (median)")
    for index, label in enumerate(labels):
        unit, scale = ("s", 1) if index == 2 else ("ms", 1000)
        cells = []
        for side in SIDES:
            value = _summary(bursts[side])[index]
            ratio = "" if side == "without" else f" ({value / without[index]:.2f})"
            cells.append(f"{side} {value * scale:7.1f} {unit}{ratio}")
        print(f"  {label:<24} " + "   ".join(cells))


def _summary(bursts: list[Burst]) -> tuple[float, float, float]:
    latencies = [value for burst in bursts for value in burst.latencies]
    ready = statistics.median(burst.ready for burst in bursts)
    return statistics.median(latencies), percentile(latencies, 0.99), ready


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--burst", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=1, help="each round: six bursts")
    args = parser.parse_args()
    binaries = BinaryCache().ensure()
    print(f"Machine load average at start: {os.getloadavg()[0]:.1f} ({os.cpu_count()} CPUs)")
    with tempfile.TemporaryDirectory(prefix="rt-bench-") as work:
        cluster = LocalCluster(binaries, Path(work), ClusterOptions(crds=addons.crds_folder()))
        with cluster:
            bursts, histograms = run(args, cluster)
    report(args, bursts, histograms)
    print(f"Machine load average at the end: {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
