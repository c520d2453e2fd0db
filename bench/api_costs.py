"""What the API server spends on each kind of request the operator makes for a Job.

Run: ``python bench/api_costs.py [--jobs 300] [--rounds 3]``

On a control plane of its own, the operator deploys ``--jobs`` Jobs until they are Ready and
is stopped; then each kind of request is sent ``--jobs`` x ``--rounds`` times, one after the
other, and the API server's and etcd's CPU time (user + system of their processes) is divided
by the number of requests. Nothing else writes meanwhile, and nobody watches the Jobs, so
each figure is the request's own cost, without a watcher's share.

The requests: a read of a Job and of a Deployment (the cheapest a request gets); merge
patches of a Job's status that change one condition's message (what a status write is), that
set a field to the value it has, and that change one short field (how much of the cost is the
write itself, how much the object's size); and an Event as the operator posts one. The scale
benchmark (``jobs_scale.py``) counts how many of each a Job costs; these figures say what
each one weighs.
"""

from __future__ import annotations

import argparse
import copy
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

from jobs_convergence import JOBS_NAMESPACE, Bench, create_all
from jobs_scale import cluster, process_cpu
from racetrack_devcluster import addons
from racetrack_devcluster.build import BinaryCache
from racetrack_devcluster.launcher import LocalCluster

JOBS = f"/apis/racetrack.io/v1alpha1/namespaces/{JOBS_NAMESPACE}/jobs"


def server_cpu(running: LocalCluster) -> tuple[float, float]:
    """CPU seconds so far of the API server and of etcd."""
    by_name = process_cpu(running)
    return by_name["kube-apiserver"], by_name["etcd"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    names = [f"cost-{index}" for index in range(args.jobs)]
    binaries = BinaryCache().ensure()
    with (
        tempfile.TemporaryDirectory(prefix="rt-api-costs-") as work,
        cluster(binaries, Path(work), "costs", 1, args.jobs + 100) as running,
    ):
        bench = Bench(running)
        create_all(bench.create_job("cost"), args.jobs)
        addons.start_operator(running, {})
        bench.jobs.wait_for(set(names), timeout=600)
        time.sleep(5.0)  # the families' last updates
        operator = next(c for c in running.components if c.name == addons.OPERATOR_COMPONENT)
        operator.stop()
        running.components.remove(operator)
        bench.jobs.stop()
        bench.deployments.stop()
        api = bench.custom.api_client
        jobs = {
            name: cast(
                dict[str, Any],
                bench.custom.get_namespaced_custom_object(
                    "racetrack.io", "v1alpha1", JOBS_NAMESPACE, "jobs", name
                ),
            )
            for name in names
        }

        def send(method: str, path: str, body: Any = None) -> None:
            content_type = (
                "application/merge-patch+json" if method == "PATCH" else "application/json"
            )
            method, url, headers, payload, _ = api.param_serialize(
                method=method,
                resource_path=path,
                header_params={"Content-Type": content_type, "Accept": "application/json"},
                body=body,
                auth_settings=["BearerToken"],
            )
            response = api.call_api(method, url, header_params=headers, body=payload)
            response.read()
            if response.status >= 300:
                raise RuntimeError(f"{method} {path}: HTTP {response.status} {response.data!r}")

        def message_changed(name: str, round_: int) -> None:
            conditions = copy.deepcopy(jobs[name]["status"]["conditions"])
            conditions[0]["message"] = f"{conditions[0]['message']} ({round_})"
            send("PATCH", f"{JOBS}/{name}/status", {"status": {"conditions": conditions}})

        def url_changed(name: str, round_: int) -> None:
            send("PATCH", f"{JOBS}/{name}/status", {"status": {"url": f"http://{name}:{round_}"}})

        def event(name: str, round_: int) -> None:
            body = {
                "metadata": {"generateName": "racetrack-operator-"},
                "involvedObject": {
                    "apiVersion": "racetrack.io/v1alpha1",
                    "kind": "Job",
                    "name": name,
                    "namespace": JOBS_NAMESPACE,
                },
                "type": "Normal",
                "reason": "JobReady",
                "message": f"Job {name} is Ready ({round_}).",
                "source": {"component": "racetrack-operator"},
                "firstTimestamp": "2026-01-01T00:00:00Z",
                "lastTimestamp": "2026-01-01T00:00:00Z",
                "count": 1,
            }
            send("POST", f"/api/v1/namespaces/{JOBS_NAMESPACE}/events", body)

        kinds: dict[str, Callable[[str, int], None]] = {
            "GET a Job": lambda name, _: send("GET", f"{JOBS}/{name}"),
            "GET a Deployment": lambda name, _: send(
                "GET", f"/apis/apps/v1/namespaces/{JOBS_NAMESPACE}/deployments/{name}"
            ),
            "PATCH a Job's status, one condition's message": message_changed,
            "PATCH a Job's status, changing nothing": lambda name, _: send(
                "PATCH", f"{JOBS}/{name}/status", {"status": {"url": jobs[name]["status"]["url"]}}
            ),
            "PATCH a Job's status, one short field": url_changed,
            "POST an Event": event,
        }
        size = len(json.dumps(jobs[names[0]]))
        print(f"{args.jobs} Jobs Ready, the operator stopped; a Job is {size} bytes of JSON")
        print(f"  {'request':<46} {'API server':>11} {'etcd':>8}   (CPU ms per request)")
        for label, request in kinds.items():
            api_before, etcd_before = server_cpu(running)
            for round_ in range(args.rounds):
                for name in names:
                    request(name, round_)
            api_after, etcd_after = server_cpu(running)
            count = args.rounds * len(names)
            print(
                f"  {label:<46} {(api_after - api_before) / count * 1000:11.2f} "
                f"{(etcd_after - etcd_before) / count * 1000:8.2f}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
