"""kind on our own Docker engine: first and warm ``kind up`` (the cluster and the platform
installed in it), the example through the gateway, ``kind down``.

Run (as root, after ``racetrack dev prereqs``): ``python bench/kind_up.py [--runs N]``

- cold parts: the build times the cache recorded when it made each of the node image's Go
  parts (kind, crictl, kubeadm, etcd, CoreDNS, kind-cni), and how long it takes to find the
  whole node image made (what every later ``kind up`` pays).
- first up: a fresh engine data root, so the node image is loaded into Docker first; then
  the cluster, the platform's images put in with ``kind load`` and ``manifests/kind``
  applied until every Deployment is Available and a Job passes the webhooks.
- warm up: the engine keeps the loaded node image across ``down``, as ``make kind-up`` does
  (the cluster, and so the platform, is made anew each time).
- example: the adder's image loaded with ``kind load``, the Job applied until Ready, and
  ``perform`` called from the host through the gateway's mapped node port (answering 42).
- baseline, in the same run: the embedded dev cluster with a real node, start to ready
  (``bench/realnode_start.py``'s run), so the ratio holds on a busy machine.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from racetrack_devcluster.build import BinaryCache
from racetrack_devcluster.kind import cluster, engine, nodeimage
from racetrack_devcluster.kind import example as kind_example
from racetrack_devcluster.processes import PortAllocator
from racetrack_devcluster.realnode import assets, detect
from realnode_start import one_run

KIND_PARTS = (
    "kind-v0.33.0",
    "crictl-v1.37.0",
    "kubeadm-v1.37.2",
    "etcd-v3.7.0",
    "coredns-v1.14.6",
    "kind-cni-1",
)


def kind_run(kind: cluster.KindCluster, gateway_port: int) -> tuple[float, float, float]:
    started = time.monotonic()
    kind.up(gateway_port=gateway_port)
    up = time.monotonic() - started
    started = time.monotonic()
    answer = kind_example.run(kind, gateway_port)
    example = time.monotonic() - started
    if answer != "42":
        raise RuntimeError(f"the adder answered {answer!r}")
    started = time.monotonic()
    left = kind.down()
    if left:
        raise RuntimeError(f"down left {left}")
    return up, example, time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2, help="kind runs (the first is fresh)")
    args = parser.parse_args()
    support = engine.check()
    if not support.ok:
        print(cluster.not_possible_message(support.reason))
        return 1
    quiet = BinaryCache(progress=lambda _: None)
    times = quiet.recorded_build_times()
    print("Cold builds recorded when the cache was filled (seconds):")
    for name in KIND_PARTS:
        print(f"  {name:<28} {times.get(name, float('nan')):7.1f}")
    started = time.monotonic()
    image = nodeimage.NodeImageBuilder(quiet, lambda _: None).ensure()
    print(f"Node image {image.name} found made in {time.monotonic() - started:.1f} s")

    ups, examples, downs = [], [], []
    with tempfile.TemporaryDirectory(prefix="rt-bench-kind-") as work:
        kind = cluster.KindCluster(Path(work) / "kind", quiet, lambda _: None)
        # Not 8080: a user's `make kind-up` may hold it.
        gateway_port = PortAllocator().claim("kind gateway")
        try:
            for _ in range(args.runs):
                up, example, down = kind_run(kind, gateway_port)
                ups.append(up)
                examples.append(example)
                downs.append(down)
        finally:
            kind.down(purge=True)

    baseline = float("nan")
    if detect.check().ok:
        baseline, _, _ = one_run(quiet, assets.options(quiet), 0)
    print(f"\nFirst kind up (fresh engine, node image loaded), with the platform: {ups[0]:6.1f} s")
    if len(ups) > 1:
        warm = statistics.median(ups[1:])
        print(f"Warm kind up, median of {len(ups) - 1}:              {warm:6.1f} s")
        print(f"Embedded dev cluster with a real node, to ready:  {baseline:6.1f} s (baseline)")
        print(f"  ratio warm kind up / baseline:                  {warm / baseline:6.1f}x")
    example = statistics.median(examples)
    print(f"Example (kind load, Job Ready, call through the gateway), median: {example:.1f} s")
    print(f"kind down, median: {statistics.median(downs):.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
