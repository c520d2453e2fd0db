"""How long the local control plane takes to build and start, and how much memory it uses.

Run: ``python bench/devcluster_start.py [--runs N] [--cold]``

- cold build: with ``--cold`` the binaries are built into a new, empty cache (the Go build
  and module caches are left alone, so this is "our cache empty"); otherwise the figures
  recorded when this machine's cache was filled are printed.
- warm start: start-to-ready of the whole cluster, as the median of N runs, next to the
  same-run floor that no launcher can beat (etcd healthy plus the API server's ``/readyz``):
  the ratio is what our launcher, the controllers and the fake node add on top.
- memory: resident set size of every component once the cluster is ready and idle.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from racetrack_devcluster.build import BinaryCache
from racetrack_devcluster.launcher import LocalCluster
from racetrack_devcluster.processes import resident_mib


def one_start(cache: BinaryCache, idle_seconds: float) -> tuple[float, float, dict[str, float]]:
    marks: dict[str, float] = {}
    started = time.monotonic()

    def progress(message: str) -> None:
        marks[message.split(" (")[0]] = time.monotonic() - started

    with tempfile.TemporaryDirectory(prefix="rt-bench-") as work:
        cluster = LocalCluster(cache.binaries(), Path(work), progress=progress)
        with cluster:
            ready = time.monotonic() - started
            # The floor: the API server answered /readyz just before the controllers started.
            floor = marks["Started kube-controller-manager"]
            time.sleep(idle_seconds)
            memory = {c.name: resident_mib(c.pid) for c in cluster.components if c.pid}
    return ready, floor, memory


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--idle", type=float, default=5.0, help="seconds idle before memory")
    parser.add_argument("--cold", action="store_true", help="build into an empty cache first")
    args = parser.parse_args()

    if args.cold:
        with tempfile.TemporaryDirectory(prefix="rt-bench-cache-") as cache_dir:
            cold = BinaryCache(Path(cache_dir))
            cold.ensure()
            build_times = cold.recorded_build_times()
    else:
        build_times = BinaryCache().recorded_build_times()
    cache = BinaryCache()
    cache.ensure()

    print(
        "Cold build (seconds, "
        + ("this run" if args.cold else "recorded when the cache was filled")
        + "):"
    )
    for name, seconds in sorted(build_times.items()):
        print(f"  {name:<28} {seconds:7.1f}")
    print(f"  {'total':<28} {sum(build_times.values()):7.1f}")

    readies, floors = [], []
    memory: dict[str, float] = {}
    for _ in range(args.runs):
        ready, floor, memory = one_start(cache, args.idle)
        readies.append(ready)
        floors.append(floor)
    ready_median, floor_median = statistics.median(readies), statistics.median(floors)
    print(f"\nWarm start to ready, median of {args.runs} runs:")
    spread = f"(min {min(readies):.2f}, max {max(readies):.2f})"
    print(f"  whole cluster (node Ready)   {ready_median:6.2f} s   {spread}")
    print(f"  floor: etcd + API server     {floor_median:6.2f} s")
    print(f"  ratio cluster / floor        {ready_median / floor_median:6.2f}")
    print(f"\nResident memory after {args.idle:.0f} s idle (MiB):")
    for name, mib in memory.items():
        print(f"  {name:<28} {mib:7.1f}")
    print(f"  {'total':<28} {sum(memory.values()):7.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
