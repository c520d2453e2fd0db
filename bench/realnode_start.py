"""Real-node dev cluster: cold and warm start, Job applied to first call, node memory.

Run (as root, after ``racetrack dev prereqs``): ``python bench/realnode_start.py [--runs N]
[--cold]``

- cold: with ``--cold`` the base image is made into a new, empty image store and registry
  (debootstrap from the Debian mirror, wheels from PyPI; Go's build cache is left alone, so
  kubelet/kube-proxy figures are the recorded ones), and the first cluster starts against
  that empty registry. Without it, the build times recorded in the cache are printed.
- warm start: start-to-ready (real node Ready, default ServiceAccount there), median of N.
- applied to first call: the adder example as a prebuilt image (base image + job layer,
  pushed to the local registry), applied as a Deployment with real probes and a Service,
  until ``perform`` first answers 200 through the Service's cluster IP. Each cluster's
  containerd starts empty, so this includes pulling and unpacking the ~50 MB image.
- memory: resident set size of each component once idle with the adder pod running,
  including the containerd shims and the job's own processes.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from racetrack_devcluster.build import BinaryCache
from racetrack_devcluster.launcher import ClusterOptions, LocalCluster
from racetrack_devcluster.processes import resident_mib
from racetrack_devcluster.realnode import baseimage, cgroups, cleanup, detect, network
from racetrack_devcluster.realnode.setup import RealNodeOptions
from racetrack_images import oci
from racetrack_images.registry import Reference, Registry

REPO = Path(__file__).resolve().parents[1]


def manifest(image: str) -> str:
    container = {
        "name": "job",
        "image": image,
        "ports": [{"containerPort": 7000}],
        "readinessProbe": {"httpGet": {"path": "/ready", "port": 7000}, "periodSeconds": 1},
    }
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "adder"},
        "spec": {
            "selector": {"matchLabels": {"app": "adder"}},
            "template": {
                "metadata": {"labels": {"app": "adder"}},
                "spec": {"containers": [container]},
            },
        },
    }
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "adder"},
        "spec": {"selector": {"app": "adder"}, "ports": [{"port": 80, "targetPort": 7000}]},
    }
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": [deployment, service]})


def in_node(cluster: LocalCluster) -> list[str]:
    """The prefix that runs a command in the node's network namespace."""
    assert cluster.real is not None
    return ["nsenter", f"--net={cluster.real.network.netns_path}", "--"]


def perform_ok(cluster: LocalCluster, url: str) -> bool:
    assert cluster.real is not None
    status, answer = network.post_json(cluster.real.network.netns_path, url, {"a": 40, "b": 2}, 2)
    return status == 200 and answer == "42"


def applied_to_first_call(cluster: LocalCluster, options: RealNodeOptions) -> float:
    assert cluster.real is not None and options.base_image is not None
    store = oci.BlobStore(options.image_store)
    baseimage.job_image(
        store, options.base_image, REPO / "examples/jobs/adder", "entrypoint.py", "bench-adder"
    )
    image = Reference(cluster.real.registry_host, "jobs/adder", "bench")
    oci.push(store, "bench-adder", image, Registry(cluster.real.registry_url))
    started = time.monotonic()
    cluster.kubectl("apply", "-f", "-", input=manifest(str(image)))
    ip = ""
    while not ip:
        ip = cluster.kubectl("get", "svc", "adder", "-o", "jsonpath={.spec.clusterIP}").stdout
    url = f"http://{ip}/api/v1/perform"
    while not perform_ok(cluster, url):
        if time.monotonic() - started > 300:
            raise RuntimeError("the adder job never answered within 300 s")
        time.sleep(0.2)
    return time.monotonic() - started


def node_memory(cluster: LocalCluster) -> dict[str, float]:
    memory = {c.name: resident_mib(c.pid) for c in cluster.components if c.pid}
    assert cluster.real is not None and cluster.real.node is not None
    node = cluster.real.node
    shims = cleanup.processes_naming(str(node.containerd_paths.socket))
    memory["containerd shims"] = sum(resident_mib(pid) for pid in shims)
    memory["pods (pause + job)"] = sum(resident_mib(pid) for pid in cgroups.pids(node.cgroup_name))
    return memory


def one_run(
    cache: BinaryCache, options: RealNodeOptions, idle: float
) -> tuple[float, float, dict[str, float]]:
    with tempfile.TemporaryDirectory(prefix="rt-bench-real-") as work:
        started = time.monotonic()
        with LocalCluster(cache.binaries(), Path(work), ClusterOptions(real_node=options)) as c:
            ready = time.monotonic() - started
            first_call = applied_to_first_call(c, options)
            time.sleep(idle)
            memory = node_memory(c)
    return ready, first_call, memory


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--idle", type=float, default=5.0, help="seconds idle before memory")
    parser.add_argument("--cold", action="store_true", help="make the base image from scratch")
    args = parser.parse_args()

    support = detect.check()
    if not support.ok:
        print(f"Real nodes are not possible here: {support.reason}")
        return 1
    cache = BinaryCache()
    cache.ensure()
    node_binaries = cache.ensure_node()
    times = cache.recorded_build_times()
    print("Cold builds recorded when the cache was filled (seconds):")
    for name in ("kubernetes-node-v1.37.2", "pause-1"):
        print(f"  {name:<28} {times.get(name, float('nan')):7.1f}")

    if args.cold:
        with tempfile.TemporaryDirectory(prefix="rt-bench-cold-") as cold_dir:
            started = time.monotonic()
            base = baseimage.BaseImageBuilder(Path(cold_dir), lambda m: print(f"  {m}")).ensure()
            print(
                f"Base image from scratch (debootstrap + wheels + runtime): "
                f"{time.monotonic() - started:.1f} s"
            )
            cold_options = RealNodeOptions(node_binaries, Path(cold_dir), base)
            ready, first_call, _ = one_run(cache, cold_options, 0)
            print(
                f"First start against an empty registry: {ready:.2f} s to ready, "
                f"{first_call:.2f} s from apply to first call"
            )

    base = baseimage.BaseImageBuilder(cache.cache_dir, print).ensure()
    options = RealNodeOptions(node_binaries, cache.cache_dir, base)
    readies, calls = [], []
    memory: dict[str, float] = {}
    for _ in range(args.runs):
        ready, first_call, memory = one_run(cache, options, args.idle)
        readies.append(ready)
        calls.append(first_call)
    print(f"\nWarm start to ready (real node Ready), median of {args.runs} runs:")
    print(
        f"  {statistics.median(readies):6.2f} s   (min {min(readies):.2f}, max {max(readies):.2f})"
    )
    print(f"Job applied to first successful call through its Service, median of {args.runs}:")
    print(f"  {statistics.median(calls):6.2f} s   (min {min(calls):.2f}, max {max(calls):.2f})")
    print(f"\nResident memory after {args.idle:.0f} s idle, adder pod running (MiB):")
    for name, mib in memory.items():
        print(f"  {name:<28} {mib:7.1f}")
    print(f"  {'total':<28} {sum(memory.values()):7.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
