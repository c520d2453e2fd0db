"""How fast the operator turns applied Jobs into Ready ones, and what it costs in memory.

Run: ``python bench/jobs_convergence.py [--single N] [--burst N] [--backlog N] [--backlog-runs R]``

Everything runs on fresh local control planes (simulated nodes), so every figure sits next
to a floor measured in the same run on the same machine: the objects a Job needs, exactly as
the operator renders them (its Deployment and Service, without the owner), created directly
through the API and timed until the Deployment is Available. No operator can make a Job Ready
before that, so ``ratio = Jobs / floor`` is what the operator adds (watches, its JobFamily,
status patches, events). For the 1,000-Job run a second floor uses a minimal Deployment and
Service, to show what the size of a Job's pod template (probes, resources, security context,
environment) costs the cluster by itself. The floor's objects live in a namespace of their
own (the controllers index pods and ReplicaSets by namespace). The watches that time
everything read plain JSON (no client model objects), so the measuring costs little of the
two cores the cluster and the operator share.

- single: Jobs applied one after another, each timed from create to ``Ready=True`` (p50, p95);
- burst: N Jobs created at once by 16 parallel clients, each timed from its create;
- backlog: N Jobs created while no operator runs (as after an outage or a restart during a
  GitOps sync), then the operator starts: time until all are Ready, and the operator's
  resident memory afterwards. This and its floors each get a fresh control plane.
- restart: then the operator is stopped and started again over those N Ready Jobs, the
  everyday restart (an upgrade, a rescheduled pod): time until it reports every Job Ready in
  its own ``racetrack_jobs`` metric (each one read and checked by the new process), and how
  many writes the API server served to Jobs, JobFamilies, Deployments and Services meanwhile,
  which should be none: a restart must not redeploy anything.

Targets: single p50 under 1 s, 1,000 Jobs converged in under 1 minute, operator
under 200 MB with 1,000 Jobs.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from collections.abc import Set as AbstractSet
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import urllib3
from kubernetes import client, watch

from racetrack_api.jobtypes import resolve_job_type
from racetrack_devcluster import addons
from racetrack_devcluster.build import Binaries, BinaryCache
from racetrack_devcluster.launcher import ClusterOptions, LocalCluster
from racetrack_devcluster.processes import resident_mib
from racetrack_operator.render.deployment import desired_deployment
from racetrack_operator.render.jobs import parse_job
from racetrack_operator.render.service import desired_service
from racetrack_operator.settings import Settings

GROUP, VERSION, PLURAL = "racetrack.io", "v1alpha1", "jobs"
JOBS_NAMESPACE = "bench-jobs"
FLOOR_NAMESPACE = "bench-floor"
PARALLEL_CLIENTS = 16


def job_manifest(index: int, prefix: str) -> dict[str, Any]:
    # Ten versions per family, like a real portfolio, so family status updates are exercised.
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Job",
        "metadata": {"name": f"{prefix}-{index}"},
        "spec": {
            "name": f"{prefix}-family-{index // 10}",
            "version": f"1.0.{index % 10}",
            "ownerEmail": "bench@example.org",
            "jobtype": "python3:latest",
            "image": "registry.invalid/bench/job:1",
            "jobtypeExtra": {"entrypoint_path": "entrypoint.py"},
            "replicas": 1,
        },
    }


def rendered_manifests(index: int, prefix: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The Deployment and Service the operator makes for ``job_manifest(index, prefix)``."""
    raw = job_manifest(index, prefix)
    raw["metadata"].update(namespace=FLOOR_NAMESPACE, uid=f"floor-{index}", generation=1)
    job, problem = parse_job(raw)
    assert problem is None, problem
    job_type = resolve_job_type(job.spec.jobtype)
    deployment = desired_deployment(job, job_type, Settings())
    service = desired_service(job, job_type)
    for obj in (deployment, service):
        # No Job owns these: the garbage collector would delete them at once.
        del obj["metadata"]["ownerReferences"]
    return deployment, service


def deployment_manifest(index: int, prefix: str) -> dict[str, Any]:
    labels = {"bench": prefix, "index": str(index)}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": f"{prefix}-{index}", "labels": labels},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "job", "image": "registry.invalid/bench:1"}]},
            },
        },
    }


def service_manifest(index: int, prefix: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": f"{prefix}-{index}"},
        "spec": {
            "selector": {"bench": prefix, "index": str(index)},
            "ports": [{"name": "http", "port": 7000, "targetPort": 7000}],
        },
    }


def _job_ready(obj: dict[str, Any]) -> bool:
    conditions = obj.get("status", {}).get("conditions", [])
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def deployment_available(obj: dict[str, Any]) -> bool:
    conditions = obj.get("status", {}).get("conditions") or []
    return any(c.get("type") == "Available" and c.get("status") == "True" for c in conditions)


class ReadyTracker:
    """Records when each object first turns ready, and which are ready now, from one watch
    (no polling lists)."""

    def __init__(
        self,
        list_call: Callable[..., Any],
        ready: Callable[[dict[str, Any]], bool],
        key: Callable[[dict[str, Any]], str] = lambda obj: str(obj["metadata"]["name"]),
        **kw: Any,
    ) -> None:
        # ``list_call`` must have no return annotation: then the watch yields plain dicts
        # instead of deserialising every event into model objects (a real CPU cost here).
        self._key = key
        self.seen_at: dict[str, float] = {}
        self.ready_at: dict[str, float] = {}
        self.ready_now: set[str] = set()
        self._changed = threading.Condition()
        self._watch = watch.Watch()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, args=(list_call, ready, kw), daemon=True)
        self._thread.start()

    def _run(
        self, list_call: Callable[..., Any], ready: Callable[[dict[str, Any]], bool], kw: Any
    ) -> None:
        while not self._stopped:
            # The API server ends watches now and then; a new one starts with a fresh list,
            # and only first transitions to ready are recorded, so replays are harmless.
            try:
                for event in self._watch.stream(list_call, **kw):
                    obj = event["object"]
                    name = self._key(obj)
                    is_ready = event["type"] != "DELETED" and ready(obj)
                    with self._changed:
                        self.seen_at.setdefault(name, time.monotonic())
                        if is_ready:
                            self.ready_at.setdefault(name, time.monotonic())
                            self.ready_now.add(name)
                        else:
                            self.ready_now.discard(name)
                        self._changed.notify_all()
            except (urllib3.exceptions.HTTPError, client.ApiException):
                time.sleep(0.1)

    def wait_for(self, names: set[str], timeout: float) -> None:
        """Until every one of ``names`` has been ready at least once."""
        self._wait(names, lambda: self.ready_at.keys(), timeout)

    def wait_all_ready(self, names: set[str], timeout: float) -> float:
        """Until every one of ``names`` is ready at once; returns ``time.monotonic()`` then."""
        self._wait(names, lambda: self.ready_now, timeout)
        return time.monotonic()

    def _wait(
        self, names: set[str], reached: Callable[[], AbstractSet[str]], timeout: float
    ) -> None:
        deadline = time.monotonic() + timeout
        with self._changed:
            while not names <= reached():
                left = deadline - time.monotonic()
                if left <= 0:
                    missing = len(names - reached())
                    raise TimeoutError(f"{missing} of {len(names)} not ready after {timeout} s")
                self._changed.wait(left)

    def stop(self) -> None:
        self._stopped = True
        self._watch.stop()


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def create_all(create: Callable[[int], None], count: int) -> dict[int, float]:
    created_at: dict[int, float] = {}

    def one(index: int) -> None:
        created_at[index] = time.monotonic()
        create(index)

    with ThreadPoolExecutor(PARALLEL_CLIENTS) as pool:
        list(pool.map(one, range(count)))
    return created_at


class Bench:
    def __init__(self, cluster: LocalCluster) -> None:
        api = cluster.api_client()
        self.cluster = cluster
        self.custom = client.CustomObjectsApi(api)
        self.apps = client.AppsV1Api(api)
        core = client.CoreV1Api(api)
        for namespace in (JOBS_NAMESPACE, FLOOR_NAMESPACE):
            body: Any = {"metadata": {"name": namespace}}
            core.create_namespace(body)

        def list_jobs(**kw: Any):  # type: ignore[no-untyped-def]  # see ReadyTracker
            return self.custom.list_namespaced_custom_object(
                GROUP, VERSION, JOBS_NAMESPACE, PLURAL, **kw
            )

        def list_deployments(**kw: Any):  # type: ignore[no-untyped-def]  # see ReadyTracker
            return self.apps.list_namespaced_deployment(FLOOR_NAMESPACE, **kw)

        self.list_jobs = list_jobs
        self.jobs = ReadyTracker(list_jobs, _job_ready)
        self.deployments = ReadyTracker(list_deployments, deployment_available)

    def create_job(self, prefix: str) -> Callable[[int], None]:
        def create(index: int) -> None:
            self.custom.create_namespaced_custom_object(
                GROUP, VERSION, JOBS_NAMESPACE, PLURAL, job_manifest(index, prefix)
            )

        return create

    def create_deployment(self, prefix: str, *, minimal: bool = False) -> Callable[[int], None]:
        core = client.CoreV1Api(self.apps.api_client)

        def create(index: int) -> None:
            # The client serialises plain dicts as they are; its stubs only name model classes.
            body: Any
            service: Any
            if minimal:
                body, service = deployment_manifest(index, prefix), service_manifest(index, prefix)
            else:
                body, service = rendered_manifests(index, prefix)
            self.apps.create_namespaced_deployment(FLOOR_NAMESPACE, body)
            core.create_namespaced_service(FLOOR_NAMESPACE, service)

        return create

    def sequential(self, count: int, prefix: str, jobs: bool) -> list[float]:
        tracker = self.jobs if jobs else self.deployments
        create = self.create_job(prefix) if jobs else self.create_deployment(prefix)
        latencies = []
        for index in range(count):
            started = time.monotonic()
            create(index)
            tracker.wait_for({f"{prefix}-{index}"}, timeout=120)
            latencies.append(tracker.ready_at[f"{prefix}-{index}"] - started)
        return latencies

    def burst(
        self, count: int, prefix: str, jobs: bool, *, minimal: bool = False
    ) -> tuple[list[float], float]:
        tracker = self.jobs if jobs else self.deployments
        create = (
            self.create_job(prefix) if jobs else self.create_deployment(prefix, minimal=minimal)
        )
        started = time.monotonic()
        created_at = create_all(create, count)
        names = {f"{prefix}-{i}" for i in range(count)}
        tracker.wait_for(names, timeout=600)
        latencies = [tracker.ready_at[f"{prefix}-{i}"] - created_at[i] for i in range(count)]
        return latencies, max(tracker.ready_at[n] for n in names) - started


def operator_rss_mib(cluster: LocalCluster) -> float:
    component = next(c for c in cluster.components if c.name == addons.OPERATOR_COMPONENT)
    return resident_mib(component.pid or 0)


# What a restarted operator could write to: any write here means it redeployed something.
_MANAGED = {("racetrack.io", "jobs"), ("racetrack.io", "jobfamilies"), ("apps", "deployments"),
            ("", "services")}  # fmt: skip


def managed_writes(cluster: LocalCluster) -> int:
    """Writes the API server made to Jobs, JobFamilies, Deployments and Services (refused
    ones, such as a create answered "already exists", changed nothing and are not counted)."""
    return sum(
        count
        for labels, count in cluster.api_requests()
        if labels.get("verb") in ("POST", "PUT", "PATCH", "DELETE")
        and labels.get("code", "").startswith("2")
        and (labels.get("group"), labels.get("resource")) in _MANAGED
    )


def jobs_reported_ready(metrics_url: str) -> int:
    """The operator's count of Ready Jobs; 0 while its metrics are not served yet (they start
    with its start-up handler, after its liveness endpoint answers)."""
    try:
        with urllib.request.urlopen(metrics_url, timeout=5) as answer:
            text = answer.read().decode()
    except OSError:
        return 0
    found = re.search(r'^racetrack_jobs\{condition="Ready",status="True"\} (\S+)$', text, re.M)
    return int(float(found.group(1))) if found else 0


def settle(cluster: LocalCluster, timeout: float = 60.0) -> None:
    """Wait until nothing writes to the objects the operator manages for two seconds (a
    family's status follows its Jobs' by a second or more)."""
    deadline = time.monotonic() + timeout
    last = managed_writes(cluster)
    while time.monotonic() < deadline:
        time.sleep(2.0)
        now = managed_writes(cluster)
        if now == last:
            return
        last = now
    raise TimeoutError(f"writes did not stop within {timeout} s")


_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICKS  # utime, stime


def restart_operator(
    cluster: LocalCluster,
    jobs: int,
    timeout: float,
    settle_timeout: float = 60.0,
    on_started: Callable[[int], object] | None = None,
    env: dict[str, str] | None = None,
) -> tuple[float, int, float]:
    """Seconds until a restarted operator reports ``jobs`` Ready Jobs, the writes made, and
    the CPU seconds the new process spent until then. ``on_started`` gets the new process's
    id as soon as it runs (to attach a profiler); ``env`` adds to its environment."""
    settle(cluster, settle_timeout)
    old = next(c for c in cluster.components if c.name == addons.OPERATOR_COMPONENT)
    old.stop()
    cluster.components.remove(old)
    writes_before = managed_writes(cluster)
    started = time.monotonic()
    metrics_url = addons.start_operator(cluster, env)
    if on_started is not None:
        started_component = next(
            c for c in cluster.components if c.name == addons.OPERATOR_COMPONENT
        )
        on_started(started_component.pid or 0)
    while jobs_reported_ready(metrics_url) < jobs:
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"the restarted operator did not report {jobs} Ready Jobs")
        time.sleep(0.2)
    caught_up = time.monotonic() - started
    new = next(c for c in cluster.components if c.name == addons.OPERATOR_COMPONENT)
    cpu = cpu_seconds(new.pid or 0)
    time.sleep(2.0)  # late Deployment events would write now, if anything were amiss
    return caught_up, managed_writes(cluster) - writes_before, cpu


def row(label: str, ours: list[float], floor: list[float]) -> str:
    p50, p95 = statistics.median(ours), percentile(ours, 0.95)
    f50, f95 = statistics.median(floor), percentile(floor, 0.95)
    return (
        f"  {label:<26} p50 {p50:6.2f} s  p95 {p95:6.2f} s   floor p50 {f50:6.2f} s  "
        f"p95 {f95:6.2f} s   ratio p50 {p50 / f50:5.2f}"
    )


@contextlib.contextmanager
def fresh_cluster(binaries: Binaries, work: Path, name: str, heal: bool = False) -> Iterator[Bench]:
    """A control plane of its own for each measurement of many objects: a thousand pods left
    on the one simulated node by an earlier phase would slow the scheduler, kwok and the API
    server's caches for the next, and the operator would watch the floor's Deployments."""
    options = ClusterOptions(crds=addons.crds_folder(), namespaces=addons.NAMESPACES, heal=heal)
    cluster = LocalCluster(binaries, work / name, options)
    with cluster:
        bench = Bench(cluster)
        try:
            yield bench
        finally:
            bench.jobs.stop()
            bench.deployments.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--single", type=int, default=20)
    parser.add_argument("--burst", type=int, default=100)
    parser.add_argument("--backlog", type=int, default=1000)
    # One backlog run takes a minute or two; the machine's noise is about ten per cent.
    parser.add_argument("--backlog-runs", type=int, default=1)
    args = parser.parse_args()

    binaries = BinaryCache().ensure()
    with tempfile.TemporaryDirectory(prefix="rt-bench-") as work:
        with fresh_cluster(binaries, Path(work), "latency") as bench:
            print("Apply to Ready (Jobs) against the floor (their Deployment + Service created")
            print("directly, to Available):")
            floor = bench.sequential(args.single, "floor-one", jobs=False)
            addons.start_operator(bench.cluster)
            idle_rss = operator_rss_mib(bench.cluster)
            ours = bench.sequential(args.single, "one", jobs=True)
            print(row(f"one at a time (n={args.single})", ours, floor))

            floor_burst, floor_total = bench.burst(args.burst, "floor-burst", jobs=False)
            ours_burst, ours_total = bench.burst(args.burst, "burst", jobs=True)
            print(row(f"{args.burst} at once", ours_burst, floor_burst))
            print(f"  {'':<26} all Ready after {ours_total:.1f} s (floor {floor_total:.1f} s)")

        with fresh_cluster(binaries, Path(work), "minimal") as bench:
            _, minimal_total = bench.burst(args.backlog, "minimal", jobs=False, minimal=True)
        print(
            f"\nOperator started with {args.backlog} Jobs waiting, until all are Ready (floor: "
            f"the same {args.backlog} Deployments + Services created directly, to Available; "
            f"minimal Deployments + Services: {minimal_total:.1f} s):"
        )
        ratios, totals, memory, restarts = [], [], [], []
        for run in range(1, args.backlog_runs + 1):
            with fresh_cluster(binaries, Path(work), f"floor-{run}") as bench:
                _, floor_total = bench.burst(args.backlog, "floor", jobs=False)
            with fresh_cluster(binaries, Path(work), f"backlog-{run}") as bench:
                # Waiting Jobs, as after an outage or a restart during a GitOps sync.
                create_all(bench.create_job("backlog"), args.backlog)
                started = time.monotonic()
                addons.start_operator(bench.cluster)
                names = {f"backlog-{i}" for i in range(args.backlog)}
                bench.jobs.wait_for(names, timeout=900)
                converged = max(bench.jobs.ready_at[n] for n in names) - started
                memory.append(operator_rss_mib(bench.cluster))
                caught_up, writes, _ = restart_operator(bench.cluster, args.backlog, timeout=300)
                restarts.append(caught_up)
            totals.append(converged)
            ratios.append(converged / floor_total)
            print(
                f"  run {run}: all Ready after {converged:5.1f} s   floor {floor_total:5.1f} s   "
                f"ratio {ratios[-1]:.2f}   operator memory {memory[-1]:.0f} MiB"
            )
            print(
                f"         then restarted over {args.backlog} Ready Jobs: caught up after "
                f"{caught_up:4.1f} s, {writes} writes to Jobs/JobFamilies/Deployments/Services"
            )
        if args.backlog_runs > 1:
            print(
                f"  median of {args.backlog_runs}: {statistics.median(totals):.1f} s, "
                f"ratio {statistics.median(ratios):.2f}, {statistics.median(memory):.0f} MiB; "
                f"restart caught up after {statistics.median(restarts):.1f} s"
            )
        print(f"Operator memory idle at start: {idle_rss:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
