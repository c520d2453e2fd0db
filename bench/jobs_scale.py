"""Thousands of Jobs on one operator: convergence, a burst on top, a restart, CPU and memory.

Run: ``python bench/jobs_scale.py [--jobs 5000] [--burst 500] [--nodes 1] [--profile FILE]``

The same measurement as ``jobs_convergence.py``'s backlog, at the sizes a large installation
has, each next to a floor measured in the same run on a control plane of its own: the Jobs'
Deployments and Services exactly as the operator renders them, created directly through the
API until Available. The simulated nodes are sized to hold every pod (``--nodes`` spreads
them), so the figures are the operator's and the cluster's, never the fake node's limits.

- backlog: ``--jobs`` Jobs created while no operator runs, then the operator starts: time until
  all are Ready against the floor, the operator's CPU per Job (user + system time of its
  process, start-up included) and its peak resident memory;
- restart: the operator is stopped and started again over those Ready Jobs: time until its
  own ``racetrack_jobs`` metric counts every one Ready, the writes the API server served to
  Jobs, JobFamilies, Deployments and Services meanwhile (a restart must make none), and the
  CPU the new process spent catching up;
- burst: then ``--burst`` more Jobs are applied at once by 16 clients while the others exist:
  time until all of them are Ready, against as many Deployments and Services created the same
  way next to the floor's, and the operator's CPU per new Job.

With the floor and the backlog it prints when each share of the objects turned Ready, the CPU
every process of the cluster spent per Job (on two busy cores the wall clock follows the sum),
and the requests per Job on the Jobs' kinds from every client; with the backlog also when the
Jobs' Deployments were created and turned Available, and how long after its Deployment each
Job turned Ready (the operator's own delay).

``--memory FOLDER`` traces the operator's allocations with ``tracemalloc`` from its start
(``tracemalloc_hook``) and prints, at the end of the backlog, what it held near its peak and
what it holds then, by allocation site (see ``memory_summary.py``); the snapshots stay in
``FOLDER``. Tracing slows the process and costs memory of its own: not a run to report.

``--operator-env NAME=VALUE`` (repeatable) adds to the operator's environment, to compare a
setting or an allocator option run against run.

``--profile-restart FILE`` does the same for the restarted operator, from the moment its
start-up handler has run until it has caught up.

``--profile FILE`` samples the operator with py-spy during the backlog phase (50 times a
second, the thread holding the GIL: where the process spends its Python CPU) and writes the
collapsed stacks to ``FILE`` (for any flame graph viewer), then prints where the samples
fall (see ``profile_summary.py``). Sampling pauses the process briefly each time, so a
profiled run's figures are not the ones to report.
"""

from __future__ import annotations

import argparse
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jobs_convergence import (
    JOBS_NAMESPACE,
    Bench,
    ReadyTracker,
    cpu_seconds,
    create_all,
    deployment_available,
    operator_rss_mib,
    percentile,
    restart_operator,
    settle,
)
from memory_summary import summarise as summarise_memory
from profile_summary import summarise
from racetrack_devcluster import addons
from racetrack_devcluster.build import Binaries, BinaryCache
from racetrack_devcluster.flags import SimulatedCapacity
from racetrack_devcluster.launcher import ClusterOptions, LocalCluster


def peak_mib(pid: int) -> float:
    """A process's peak resident memory (VmHWM) in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def operator_pid(cluster: LocalCluster) -> int:
    component = next(c for c in cluster.components if c.name == addons.OPERATOR_COMPONENT)
    return component.pid or 0


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load {one:.2f} {five:.2f} {fifteen:.2f}"


@dataclass
class Floor:
    backlog: float
    burst: float


@dataclass
class Figures:
    converged: float
    cpu_per_job_ms: float
    rss_mib: float
    peak_mib: float
    restart: float
    restart_writes: int
    restart_cpu: float
    burst: float
    burst_cpu_per_job_ms: float
    final_peak_mib: float


def cluster(binaries: Binaries, work: Path, name: str, nodes: int, pods: int) -> LocalCluster:
    options = ClusterOptions(
        crds=addons.crds_folder(),
        namespaces=addons.NAMESPACES,
        simulated=SimulatedCapacity(nodes=nodes, job_pods_per_node=pods),
    )
    return LocalCluster(binaries, work / name, options)


def measure_floor(running: LocalCluster, jobs: int, burst: int) -> Floor:
    bench = Bench(running)
    try:
        children_before = job_kind_requests(running)
        cpu_before = process_cpu(running)
        started = time.monotonic()
        _, backlog = bench.burst(jobs, "floor", jobs=False)
        print(f"  floor: Ready after {timeline(bench.deployments.ready_at.values(), started)}")
        print(f"  floor: {cpu_spent(cpu_before, process_cpu(running), jobs)}")
        spent = per_job(children_before, job_kind_requests(running), jobs)
        print(f"  floor: requests per Job on the Jobs' kinds (all clients): {spent}")
        _, on_top = bench.burst(burst, "floor-extra", jobs=False)
    finally:
        bench.jobs.stop()
        bench.deployments.stop()
    return Floor(backlog, on_top)


def racetrack_requests(running: LocalCluster) -> Counter[str]:
    """Requests the API server served on racetrack.io objects (the operator is their only
    client during a phase), by verb, resource and subresource."""
    counts: Counter[str] = Counter()
    for labels, count in running.api_requests():
        if labels.get("group") == "racetrack.io":
            sub = labels.get("subresource")
            resource = labels.get("resource", "") + (f"/{sub}" if sub else "")
            counts[f"{labels.get('verb')} {resource}"] += count
    return counts


#: The kinds the operator (or, in the floor, the controllers) could read or write per Job.
_JOB_KINDS = {"jobs", "jobfamilies", "deployments", "services", "secrets", "pods"}


def job_kind_requests(running: LocalCluster) -> Counter[str]:
    """Requests the API server served on the kinds a Job touches, by verb and resource
    (every client's: during a settled restart the operator is nearly the only one)."""
    counts: Counter[str] = Counter()
    for labels, count in running.api_requests():
        resource = labels.get("resource", "")
        if resource in _JOB_KINDS and labels.get("verb") != "WATCH":
            sub = labels.get("subresource")
            counts[f"{labels.get('verb')} {resource}" + (f"/{sub}" if sub else "")] += count
    return counts


def purge_tracker(bench: Bench) -> ReadyTracker:
    """Records when each Job first carries a purge score."""
    return ReadyTracker(bench.list_jobs, lambda job: "purge" in (job.get("status") or {}))


def job_deployments(bench: Bench) -> ReadyTracker:
    """When each Job's Deployment was first seen and first Available, by the Job's name."""

    def list_deployments(**kw: Any):  # type: ignore[no-untyped-def]  # see ReadyTracker
        return bench.apps.list_namespaced_deployment(JOBS_NAMESPACE, **kw)

    def owner(deployment: dict[str, Any]) -> str:
        return str(deployment["metadata"]["ownerReferences"][0]["name"])

    return ReadyTracker(list_deployments, deployment_available, key=owner)


def timeline(moments: Iterable[float], started: float) -> str:
    """Seconds from ``started`` until each share of the objects had reached a state (their
    ``moments``, one each): where a gap opens."""
    times = sorted(at - started for at in moments)
    shares = (0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 1.0)
    marks = (times[max(0, math.ceil(share * len(times)) - 1)] for share in shares)
    return ", ".join(f"{share:.0%} {mark:.1f}s" for share, mark in zip(shares, marks, strict=True))


def process_cpu(running: LocalCluster) -> dict[str, float]:
    """CPU seconds so far of each process of the cluster (the API server, etcd, the
    controllers, kwok, the operator once it runs) and of the benchmark itself."""
    spent = {c.name: cpu_seconds(c.pid) for c in running.components if c.pid}
    times = os.times()
    # This process: the floor's 16 clients, and the watches that see Jobs turn Ready.
    spent["benchmark"] = times.user + times.system
    return spent


def cpu_spent(before: dict[str, float], after: dict[str, float], jobs: int) -> str:
    """On two busy cores the wall clock follows the CPU every process spent: which one the
    operator's work made spend more shows here."""
    spent = {name: after[name] - before.get(name, 0.0) for name in after}
    total = sum(spent.values())
    parts = ", ".join(f"{name} {seconds / jobs * 1000:.1f}" for name, seconds in spent.items())
    return f"CPU ms per Job by process: {parts}; all {total / jobs * 1000:.1f}"


def per_job(before: Counter[str], after: Counter[str], jobs: int) -> str:
    spent = after - before
    return ", ".join(f"{key} {count / jobs:.2f}" for key, count in sorted(spent.items()))


def start_profiler(pid: int, output: Path) -> subprocess.Popen[bytes]:
    py_spy = Path(sys.executable).with_name("py-spy")
    argv = [str(py_spy), "record", "--pid", str(pid), "--rate", "50", "--gil"]
    argv += ["--format", "raw", "--output", str(output)]
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def stop_profiler(
    profiler: subprocess.Popen[bytes], output: Path, phase: str = "the backlog phase"
) -> None:
    profiler.send_signal(signal.SIGINT)
    _, errors = profiler.communicate(timeout=120)
    if not output.is_file():
        raise RuntimeError(f"py-spy wrote no profile: {errors.decode(errors='replace')}")
    print(f"\nProfile of {phase}: {output}")
    print(summarise(output.read_text()))


def tracing_env(folder: Path) -> dict[str, str]:
    """The operator's environment for ``tracemalloc_hook`` to trace it into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    hook = Path(__file__).resolve().parent / "tracemalloc_hook"
    return {"PYTHONPATH": str(hook), "RACETRACK_TRACEMALLOC_DIR": str(folder)}


def report_memory(folder: Path, timeout: float = 600.0) -> None:
    """Ask the traced operator for a snapshot now, then summarise it and the peak's."""
    (folder / "now").touch()
    deadline = time.monotonic() + timeout
    while (folder / "now").exists():
        if time.monotonic() > deadline:
            raise RuntimeError(f"the traced operator wrote no snapshot into {folder}")
        time.sleep(1.0)
    for name in ("peak", "now"):
        snapshot = folder / f"{name}.snapshot"
        if snapshot.is_file():
            figures = (folder / f"{name}.txt").read_text().split()
            mib = {
                key: int(value) / 2**20
                for key, value in zip(figures[::2], figures[1::2], strict=True)
            }
            print(
                f"\nTraced memory ({name}): {mib['traced']:.0f} MiB held, peak "
                f"{mib['peak']:.0f} MiB, tracemalloc's own {mib['overhead']:.0f} MiB, "
                f"resident {mib['rss']:.0f} MiB"
            )
            print(summarise_memory(snapshot))


def measure_operator(
    running: LocalCluster,
    jobs: int,
    burst: int,
    profile: Path | None,
    profile_restart: Path | None = None,
    memory: Path | None = None,
    operator_env: dict[str, str] | None = None,
) -> Figures:
    bench = Bench(running)
    try:
        # Waiting Jobs, as after an outage or a restart during a GitOps sync.
        create_all(bench.create_job("backlog"), jobs)
        requests_before = racetrack_requests(running)
        children_before = job_kind_requests(running)
        cluster_cpu_before = process_cpu(running)
        children = job_deployments(bench)
        started = time.monotonic()
        addons.start_operator(
            running, {**(operator_env or {}), **(tracing_env(memory) if memory else {})}
        )
        pid = operator_pid(running)
        profiler = start_profiler(pid, profile) if profile else None
        names = {f"backlog-{i}" for i in range(jobs)}
        bench.jobs.wait_for(names, timeout=max(900, jobs * 0.5))
        converged = max(bench.jobs.ready_at[n] for n in names) - started
        ready = timeline((bench.jobs.ready_at[n] for n in names), started)
        print(f"  backlog: Ready after {ready}")
        print(f"  backlog: {cpu_spent(cluster_cpu_before, process_cpu(running), jobs)}")
        created = timeline(children.seen_at.values(), started)
        print(f"  backlog: their Deployments created after {created}")
        available = timeline(children.ready_at.values(), started)
        print(f"  backlog: their Deployments Available after {available}")
        lags = [bench.jobs.ready_at[n] - children.ready_at[n] for n in names]
        shares = {"median": 0.5, "p90": 0.9, "p99": 0.99, "max": 1.0}
        print(
            "  backlog: a Job Ready after its Deployment Available: "
            + ", ".join(f"{label} {percentile(lags, q):.2f}s" for label, q in shares.items())
        )
        children.stop()
        cpu_backlog = cpu_seconds(pid)
        if profiler and profile:
            stop_profiler(profiler, profile)
        rss, peak = operator_rss_mib(running), peak_mib(pid)
        print(f"  backlog converged ({load()})")
        if memory:
            report_memory(memory)
        settle(running, timeout=120)
        spent = per_job(requests_before, racetrack_requests(running), jobs)
        print(f"  racetrack.io requests per Job in the backlog: {spent}")
        spent = per_job(children_before, job_kind_requests(running), jobs)
        print(f"  requests per Job on the Jobs' kinds in the backlog (all clients): {spent}")

        settle(running, timeout=120)
        before_restart = job_kind_requests(running)
        restart_profiler: list[subprocess.Popen[bytes]] = []

        def attach(pid: int) -> None:
            if profile_restart:
                restart_profiler.append(start_profiler(pid, profile_restart))

        caught_up, writes, restart_cpu = restart_operator(
            running,
            jobs,
            timeout=max(300, jobs * 0.2),
            settle_timeout=120,
            on_started=attach,
            env=operator_env,
        )
        if restart_profiler and profile_restart:
            stop_profiler(restart_profiler[0], profile_restart, "the restart")
        restart_peak = peak_mib(operator_pid(running))
        spent = per_job(before_restart, job_kind_requests(running), jobs)
        print(f"  restart caught up ({load()}), peak {restart_peak:.0f} MiB")
        print(f"  requests per Job during the restart (all clients): {spent}")

        settle(running, timeout=120)
        pid = operator_pid(running)
        cpu_before = cpu_seconds(pid)
        requests_before_burst = racetrack_requests(running)
        scored = purge_tracker(bench)
        burst_started = time.monotonic()
        create_all(bench.create_job("extra"), burst)
        extra = {f"extra-{i}" for i in range(burst)}
        bench.jobs.wait_for(extra, timeout=600)
        on_top = max(bench.jobs.ready_at[n] for n in extra) - burst_started
        burst_cpu = cpu_seconds(pid) - cpu_before
        final_peak = peak_mib(pid)
        print(f"  burst converged ({load()})")
        # The writes a new Job costs include its purge score's, whichever write carries it.
        scored.wait_for(extra, timeout=300)
        scored.stop()
        settle(running, timeout=120)
        spent = per_job(requests_before_burst, racetrack_requests(running), burst)
        print(f"  racetrack.io requests per Job of the burst, until scored: {spent}")
    finally:
        bench.jobs.stop()
        bench.deployments.stop()
    return Figures(
        converged=converged,
        cpu_per_job_ms=cpu_backlog / jobs * 1000,
        rss_mib=rss,
        peak_mib=peak,
        restart=caught_up,
        restart_writes=writes,
        restart_cpu=restart_cpu,
        burst=on_top,
        burst_cpu_per_job_ms=burst_cpu / burst * 1000,
        final_peak_mib=final_peak,
    )


def report(jobs: int, burst: int, floor: Floor, ours: Figures) -> str:
    return "\n".join(
        [
            f"\n{jobs:,} Jobs on one operator ({load()} at the end):",
            f"  {'phase':<44} {'operator':>10} {'floor':>10} {'ratio':>7}",
            f"  {f'{jobs:,} waiting at start, until all Ready':<44} {ours.converged:9.1f}s "
            f"{floor.backlog:9.1f}s {ours.converged / floor.backlog:7.2f}",
            f"  {f'{burst:,} applied at once next to them':<44} {ours.burst:9.1f}s "
            f"{floor.burst:9.1f}s {ours.burst / floor.burst:7.2f}",
            f"  {f'restart over {jobs:,} Ready Jobs, caught up':<44} {ours.restart:9.1f}s "
            f"   writes {ours.restart_writes}",
            f"  operator CPU per Job: {ours.cpu_per_job_ms:.1f} ms in the backlog (start-up "
            f"included), {ours.burst_cpu_per_job_ms:.1f} ms per Job of the burst; "
            f"restart {ours.restart_cpu:.1f} s of CPU",
            f"  operator memory: {ours.rss_mib:.0f} MiB resident after the backlog (peak "
            f"{ours.peak_mib:.0f} MiB); peak {ours.final_peak_mib:.0f} MiB after restart + burst",
        ]
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=5000)
    parser.add_argument("--burst", type=int, default=500)
    parser.add_argument("--nodes", type=int, default=1, help="simulated nodes to spread pods")
    parser.add_argument("--profile", type=Path, help="py-spy the backlog phase into this file")
    parser.add_argument(
        "--profile-restart", type=Path, help="py-spy the restart (from start-up) into this file"
    )
    parser.add_argument(
        "--memory", type=Path, help="trace the operator's allocations into this folder"
    )
    parser.add_argument(
        "--operator-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="more of the operator's environment",
    )
    parser.add_argument("--skip-floor", action="store_true", help="operator figures only")
    args = parser.parse_args()
    # Room for every pod of the larger run, spread over the nodes, with some to spare.
    pods = (args.jobs + args.burst) // args.nodes + 100

    binaries = BinaryCache().ensure()
    print(f"Started with {load()}")
    with tempfile.TemporaryDirectory(prefix="rt-scale-") as work:
        floor = Floor(float("nan"), float("nan"))
        if not args.skip_floor:
            with cluster(binaries, Path(work), "floor", args.nodes, pods) as running:
                floor = measure_floor(running, args.jobs, args.burst)
            print(f"  floor measured ({load()})")
        with cluster(binaries, Path(work), "operator", args.nodes, pods) as running:
            ours = measure_operator(
                running,
                args.jobs,
                args.burst,
                args.profile,
                args.profile_restart,
                args.memory,
                dict(item.split("=", 1) for item in args.operator_env),
            )
    print(report(args.jobs, args.burst, floor, ours))
    return 0


if __name__ == "__main__":
    sys.exit(main())
