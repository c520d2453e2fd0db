"""What the operator's purge timer costs, against the bare API calls it cannot avoid.

Run: ``python bench/purge_timer.py [--jobs N] [--versions V]`` (default 1,000 Jobs, families
of 5 versions)

One fresh local control plane (simulated nodes, no operator: the timer's pass is run in
this process, the code the operator runs, ``reconcile.purge.refresh_purge``). N Jobs are
created in one namespace and N more in a floor namespace. Figures, each with its floor
measured in the same run on the same cluster, ``ratio = timer / floor``:

- first pass: every Job gets its first ``status.purge`` (N status writes); the floor makes
  the same N status patches directly, as concurrently, through the same client.
- steady pass: nothing changed, so nothing is written; the floor is one bare list of the same
  Jobs. This is what the timer costs every interval on a quiet cluster.
- CPU of this process for each (the scoring itself), next to the floor's.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import tempfile
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from kubernetes import client, config

from racetrack_api.v1alpha1 import Job
from racetrack_devcluster import addons
from racetrack_devcluster.build import BinaryCache
from racetrack_devcluster.launcher import ClusterOptions, LocalCluster
from racetrack_kube import paths
from racetrack_kube.client import Kube, load_api_client
from racetrack_operator.reconcile.context import Context
from racetrack_operator.reconcile.purge import refresh_purge
from racetrack_operator.settings import Settings

GROUP, VERSION = "racetrack.io", "v1alpha1"
NAMESPACE, FLOOR_NAMESPACE = "bench-purge", "bench-purge-floor"
PARALLEL_CLIENTS = 16


def job(name: str, family: str, version: str) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {
            "name": family,
            "version": version,
            "ownerEmail": "bench@example.org",
            "jobtype": "python3:1.0.0",
            "image": "registry.example.org/bench:1",
            "jobtypeExtra": {"entrypoint_path": "entrypoint.py"},
        },
    }


def create_jobs(kubeconfig: Path, namespace: str, count: int, versions: int) -> None:
    api = client.CustomObjectsApi(config.new_client_from_config(str(kubeconfig)))

    def create(index: int) -> None:
        family, version = f"fam{index // versions}", f"1.{index % versions}.0"
        body = job(f"{family}-v1-{index % versions}-0", family, version)
        api.create_namespaced_custom_object(GROUP, VERSION, namespace, "jobs", body)

    with ThreadPoolExecutor(PARALLEL_CLIENTS) as pool:
        list(pool.map(create, range(count)))


async def measured(work: Callable[[], Awaitable[Any]]) -> tuple[float, float, Any]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = await work()
    return time.perf_counter() - wall, time.process_time() - cpu, result


async def bench(kubeconfig: Path, count: int) -> None:
    kube = Kube(load_api_client(64, "bench", kubeconfig=str(kubeconfig)), 64)
    ctx = Context(kube, Settings(namespaces=(NAMESPACE,)))
    now = datetime.datetime.now(datetime.UTC)
    first = await measured(lambda: refresh_purge(ctx, now))
    steady = await measured(lambda: refresh_purge(ctx, now))
    purge = {"score": 1.0, "reasons": ["It has 1 newer version."]}

    async def floor_writes() -> int:
        jobs = await kube.list_objects(paths.racetrack(Job, FLOOR_NAMESPACE))
        await asyncio.gather(
            *(
                kube.merge_patch(
                    paths.racetrack(Job, FLOOR_NAMESPACE, j["metadata"]["name"]) + "/status",
                    {"status": {"purge": purge}},
                )
                for j in jobs
            )
        )
        return len(jobs)

    floor_first = await measured(floor_writes)
    floor_list = await measured(lambda: kube.list_objects(paths.racetrack(Job, NAMESPACE)))
    kube.close()
    print(f"jobs: {count} (and {count} in the floor's namespace)")
    for what, timer, floor, writes in (
        ("first pass", first, floor_first, f"{first[2]} writes, floor {floor_first[2]}"),
        ("steady pass", steady, floor_list, f"{steady[2]} writes, floor: one list"),
    ):
        print(
            f"{what}: {timer[0]:.2f} s wall (floor {floor[0]:.2f} s, ratio "
            f"{timer[0] / floor[0]:.2f}), {timer[1]:.2f} s CPU here (floor {floor[1]:.2f} s, "
            f"ratio {timer[1] / max(floor[1], 1e-9):.2f}); {writes}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--versions", type=int, default=5, help="versions per family")
    args = parser.parse_args()
    binaries = BinaryCache().ensure()
    options = ClusterOptions(crds=addons.crds_folder(), namespaces=addons.NAMESPACES)
    with (
        tempfile.TemporaryDirectory() as state,
        LocalCluster(binaries, Path(state), options) as cluster,
    ):
        for namespace in (NAMESPACE, FLOOR_NAMESPACE):
            cluster.kubectl("create", "namespace", namespace)
        started = time.perf_counter()
        create_jobs(cluster.kubeconfig, NAMESPACE, args.jobs, args.versions)
        create_jobs(cluster.kubeconfig, FLOOR_NAMESPACE, args.jobs, args.versions)
        print(f"created {2 * args.jobs} Jobs in {time.perf_counter() - started:.1f} s")
        asyncio.run(bench(cluster.kubeconfig, args.jobs))


if __name__ == "__main__":
    main()
