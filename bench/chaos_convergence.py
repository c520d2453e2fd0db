"""How a 1,000-Job backlog converges while components are killed, against no kills.

Run: ``python bench/chaos_convergence.py [--backlog N] [--kills K] [--seed S]``

Two fresh control planes that heal themselves (``ClusterOptions(heal=True)``), the same
backlog on each, as in ``jobs_convergence.py``: N Jobs created while no operator runs, then
the operator starts (as after an outage, or a restart during a GitOps sync).

- without kills: time from the operator's start until every Job is Ready at once, and the
  writes made;
- with kills: K ``kill -9`` of components drawn at random from ``chaos.TARGETS`` (the API
  server, etcd, the controller manager, the operator, the gateway's agent, HAProxy, the
  admission webhooks), at random moments spread over the first 80 % of the same run's time
  without kills, each once the previous victim is back.
  Time from the last kill until every Job is Ready at once, the total, and the writes made.

Writes are what the API server counted as successful POST/PUT/PATCH/DELETE on Jobs,
JobFamilies, Deployments and Services (``jobs_convergence.managed_writes``; the backlog's own
N creates included on both sides). An API server that restarts counts from zero, so its
counts are read just before each kill of it and added up; writes in flight in the
milliseconds between that read and the kill are missed. Readiness comes from one watch of
the Jobs (``jobs_convergence.ReadyTracker``), which lists them afresh after every outage.
"""

from __future__ import annotations

import argparse
import dataclasses
import random
import sys
import tempfile
import time
from pathlib import Path

from jobs_convergence import Bench, create_all, fresh_cluster, managed_writes
from racetrack_devcluster import addons, chaos
from racetrack_devcluster.build import BinaryCache
from racetrack_devcluster.launcher import LocalCluster

#: Kills fall in this share of the no-kill run's convergence time, so they land mid-backlog.
KILL_WINDOW = 0.8


class WriteCounter:
    """Managed writes over several lifetimes of the API server."""

    def __init__(self, cluster: LocalCluster) -> None:
        self.cluster = cluster
        self.banked = 0

    def before_apiserver_kill(self) -> None:
        self.banked += managed_writes(self.cluster)

    def total(self) -> int:
        return self.banked + managed_writes(self.cluster)


@dataclasses.dataclass(frozen=True)
class Outcome:
    converged: float
    writes: int
    kills: list[tuple[float, str, float]] = dataclasses.field(default_factory=list)
    last_kill: float = 0.0


def backlog(bench: Bench, count: int) -> set[str]:
    chaos.start_gateway_and_webhooks(bench.cluster)  # on both sides: the same platform
    create_all(bench.create_job("backlog"), count)
    return {f"backlog-{i}" for i in range(count)}


def without_kills(bench: Bench, count: int) -> Outcome:
    names = backlog(bench, count)
    started = time.monotonic()
    addons.start_operator(bench.cluster)
    converged = bench.jobs.wait_all_ready(names, timeout=1800) - started
    return Outcome(converged, managed_writes(bench.cluster))


def with_kills(bench: Bench, count: int, moments: list[float], rng: random.Random) -> Outcome:
    cluster = bench.cluster
    names = backlog(bench, count)
    writes = WriteCounter(cluster)
    kills = []
    started = time.monotonic()
    addons.start_operator(cluster)
    for moment in moments:
        time.sleep(max(0.0, started + moment - time.monotonic()))
        target = rng.choice(chaos.TARGETS)
        if target == "kube-apiserver":
            writes.before_apiserver_kill()
        killed = chaos.kill(cluster, target)
        back = chaos.wait_back(cluster, killed, timeout=300)
        kills.append((killed.at - started, target, back))
    converged_at = bench.jobs.wait_all_ready(names, timeout=1800)
    last_kill = started + kills[-1][0]
    return Outcome(converged_at - started, writes.total(), kills, converged_at - last_kill)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backlog", type=int, default=1000)
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--seed", type=int, default=None, help="default: a new one, printed")
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    rng = random.Random(seed)

    binaries = BinaryCache().ensure()
    with tempfile.TemporaryDirectory(prefix="rt-bench-") as work:
        with fresh_cluster(binaries, Path(work), "calm", heal=True) as bench:
            calm = without_kills(bench, args.backlog)
        window = KILL_WINDOW * calm.converged
        moments = sorted(rng.uniform(0.0, window) for _ in range(args.kills))
        with fresh_cluster(binaries, Path(work), "chaos", heal=True) as bench:
            rough = with_kills(bench, args.backlog, moments, rng)

    print(
        f"{args.backlog} Jobs waiting when the operator starts; {args.kills} random kills "
        f"while they converge (seed {seed}):"
    )
    print(
        f"  without kills: every Job Ready after {calm.converged:6.1f} s, "
        f"{calm.writes} writes to Jobs/JobFamilies/Deployments/Services"
    )
    print(
        f"  with kills:    every Job Ready after {rough.converged:6.1f} s "
        f"(ratio {rough.converged / calm.converged:.2f}), {rough.writes} writes "
        f"({rough.writes - calm.writes:+d})"
    )
    for at, target, back in rough.kills:
        print(f"    {at:6.1f} s  kill -9 {target:<24} back after {back:5.1f} s")
    last_at, last_target, _ = rough.kills[-1]
    print(
        f"  after the last kill ({last_target} at {last_at:.1f} s): every Job Ready "
        f"{rough.last_kill:.1f} s later; without kills the whole backlog took "
        f"{calm.converged:.1f} s (ratio {rough.last_kill / calm.converged:.2f})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
