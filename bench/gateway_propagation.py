"""Benchmark: how soon a change of the racetrack.io objects changes the gateway's answers.

    python bench/gateway_propagation.py [--jobs 1000] [--users 200] [--trials 10]

A fresh local control plane (simulated nodes) with the gateway as ``racetrack dev up`` runs
it, seeded with ``--jobs`` job versions (Job, JobFamily status, Service) and ``--users``
Users with tokens and ten family grants each, so the agent works on full tables. Then, for
each trial, a caller is timed from the start of the change to the first call that shows it,
calls going back to back meanwhile:

- grant: ``kubectl apply`` of a Permission, until the caller's first 200 (was 403);
- revoke: ``kubectl delete`` of that Permission, until the first 403;
- reset: an ESC's token hashes replaced (what a reset does), until its old token's first 401.

The baseline, measured in the same run for every change, is the time until a plain watch of
the changed kind (the earliest any controller can know) sees it; ``ratio = gateway / watch``
and ``added`` = the difference, what the agent and HAProxy add. Target: a change effective in
under 1 s.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from racetrack_api import tokens
from racetrack_api.v1alpha1 import Job, JobFamily, Permission, User
from racetrack_devcluster import addons, gateway
from racetrack_devcluster.build import BinaryCache
from racetrack_devcluster.launcher import ClusterOptions, LocalCluster
from racetrack_kube import paths
from racetrack_kube.client import Kube

NS = "bench"
KEY = tokens.new_auth_key()
API = "racetrack.io/v1alpha1"


class QuietServer(ThreadingHTTPServer):
    """Says nothing when a client drops a kept-alive connection (HAProxy closes idle ones)."""

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class Upstream:
    """Answers every call at once: the bench times the gateway, not a job."""

    def __init__(self) -> None:
        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

        self.server = QuietServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


async def seed(kube: Kube, jobs: int, users: int, upstream: str) -> None:
    """Jobs as the operator would leave them (family status, Service), Users with tokens."""
    limit = asyncio.Semaphore(32)

    async def write(method: str, path: str, body: dict[str, Any]) -> None:
        async with limit:
            content = "application/merge-patch+json" if method == "PATCH" else "application/json"
            await kube.request(method, path, body, content_type=content)

    async def job(i: int) -> None:
        family, name = f"fam-{i:04d}", f"fam-{i:04d}-v1-0-0"
        await write(
            "POST",
            paths.racetrack(Job, NS),
            {
                "apiVersion": API,
                "kind": "Job",
                "metadata": {
                    "name": name,
                    "annotations": {"racetrack.io/gateway-upstream": upstream},
                },
                "spec": {
                    "name": family,
                    "version": "1.0.0",
                    "ownerEmail": "o@example.com",
                    "jobtype": "python3:1.0.0",
                    "image": "x/y:1",
                    "jobtypeExtra": {"entrypoint_path": "e.py"},
                },
            },
        )
        await write(
            "POST",
            paths.racetrack(JobFamily, NS),
            {"apiVersion": API, "kind": "JobFamily", "metadata": {"name": family}},
        )
        await write(
            "PATCH",
            paths.racetrack(JobFamily, NS, family) + "/status",
            {
                "status": {
                    "versions": [{"version": "1.0.0", "job": name, "ready": True}],
                    "latest": "1.0.0",
                }
            },
        )
        await write(
            "POST",
            paths.services(NS),
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {
                    "name": name,
                    "labels": {
                        "app.kubernetes.io/managed-by": "racetrack-operator",
                        "racetrack.io/job": name,
                    },
                },
                "spec": {"ports": [{"port": 7000}]},
            },
        )

    async def user(i: int) -> None:
        name = f"user-{i:04d}"
        await write(
            "POST",
            paths.racetrack(User),
            {
                "apiVersion": API,
                "kind": "User",
                "metadata": {"name": name},
                "spec": {"active": True},
            },
        )
        token = tokens.issue(name, "user", KEY)
        await write(
            "PATCH",
            paths.racetrack(User, None, name) + "/status",
            {"status": {"token": {"secretName": name, "hashes": [tokens.token_hash(token)]}}},
        )
        for k in range(10):
            await write(
                "POST",
                paths.racetrack(Permission, NS),
                {
                    "apiVersion": API,
                    "kind": "Permission",
                    "metadata": {"name": f"{name}-{k}"},
                    "spec": {
                        "subject": {"kind": "User", "name": name},
                        "scope": "call_job",
                        "resource": {"family": f"fam-{(i * 7 + k * 13) % jobs:04d}"},
                    },
                },
            )

    await asyncio.gather(*(job(i) for i in range(jobs)))
    await asyncio.gather(*(user(i) for i in range(users)))


class Watch:
    """A plain watch of one collection: when did an object with a given name last change?"""

    def __init__(self, cluster: LocalCluster, resource: str) -> None:
        self.seen: dict[str, float] = {}
        self._process = subprocess.Popen(
            [
                str(cluster.binaries.kubectl),
                f"--kubeconfig={cluster.kubeconfig}",
                "get",
                resource,
                "-A",
                "--watch-only",
                "-o",
                "json",
                "--output-watch-events",
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self._process.stdout is not None
        buffer = ""
        for line in self._process.stdout:
            buffer += line
            try:
                event = json.loads(buffer)
            except ValueError:
                continue
            buffer = ""
            self.seen[event["object"]["metadata"]["name"]] = time.monotonic()

    def after(self, name: str, since: float, timeout: float = 30) -> float:
        deadline = time.monotonic() + timeout
        while self.seen.get(name, 0.0) < since:
            if time.monotonic() > deadline:
                return float("nan")
            time.sleep(0.001)
        return self.seen[name] - since

    def stop(self) -> None:
        self._process.kill()


def first(call: Callable[[], int], status: int, since: float, timeout: float = 30) -> float:
    """Seconds from ``since`` to the first call answering ``status`` (calls back to back)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if call() == status:
            return time.monotonic() - since
    return float("nan")


@contextlib.contextmanager
def seeded_cluster(
    jobs: int, users: int, *, heal: bool = False
) -> Iterator[tuple[LocalCluster, Kube]]:
    """A fresh local control plane seeded with ``jobs`` job versions, which an upstream of
    this process answers for, and ``users`` Users (see ``seed``)."""
    with tempfile.TemporaryDirectory() as tmp:
        options = ClusterOptions(crds=addons.crds_folder(), heal=heal)
        with LocalCluster(BinaryCache().ensure(), Path(tmp) / "cluster", options) as cluster:
            cluster.kubectl("create", "namespace", NS)
            kube = Kube(cluster.api_client(), 32)
            upstream = Upstream()
            started = time.monotonic()
            asyncio.run(seed(kube, jobs, users, upstream.address))
            print(
                f"Seeded {jobs} job versions and {users} users with "
                f"{10 * users} grants in {time.monotonic() - started:.0f} s."
            )
            try:
                yield cluster, kube
            finally:
                kube.close()
                upstream.server.shutdown()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--trials", type=int, default=10)
    args = parser.parse_args()
    results: dict[str, list[tuple[float, float]]] = {"grant": [], "revoke": [], "reset": []}
    with seeded_cluster(args.jobs, args.users) as (cluster, kube):
        # Jobs point at the bench's upstream: the simulated node runs no job.
        url = gateway.start(cluster, upstream_override=True)
        measure(cluster, kube, url, args.trials, results)
    report(results)
    return 0


def measure(
    cluster: LocalCluster,
    kube: Kube,
    url: str,
    trials: int,
    results: dict[str, list[tuple[float, float]]],
) -> None:
    client = httpx.Client(base_url=url, timeout=10)
    caller = "user-0001"
    token = tokens.issue(caller, "user", KEY)
    cluster.kubectl(
        "patch",
        "rtuser",
        caller,
        "--subresource=status",
        "--type=merge",
        "-p",
        json.dumps(
            {"status": {"token": {"secretName": caller, "hashes": [tokens.token_hash(token)]}}}
        ),
    )
    esc_token = tokens.issue("portal", "esc", KEY)
    cluster.kubectl(
        "apply",
        "-f",
        "-",
        input=json.dumps(
            {
                "apiVersion": API,
                "kind": "ExternalServiceConsumer",
                "metadata": {"name": "portal", "namespace": NS},
            }
        ),
    )
    publish_esc(cluster, esc_token)
    cluster.kubectl(
        "apply",
        "-f",
        "-",
        input=json.dumps(permission("portal-all", "ExternalServiceConsumer", "portal", "fam-0000")),
    )
    family = "fam-0003"  # not among user-0001's grants
    path = f"/pub/job/{family}/latest/api/v1/perform"

    def as_caller() -> int:
        return client.post(path, headers={"X-Racetrack-Auth": token}).status_code

    def as_esc(current: str) -> Callable[[], int]:
        return lambda: (
            client.post(
                "/pub/job/fam-0000/latest/x", headers={"X-Racetrack-Auth": current}
            ).status_code
        )

    allowed = 200  # the upstream answers every call it gets
    if math.isnan(first(as_esc(esc_token), allowed, time.monotonic(), timeout=120)):
        raise RuntimeError("the gateway never let the ESC through")
    permissions = Watch(cluster, "permissions.racetrack.io")
    escs = Watch(cluster, "externalserviceconsumers.racetrack.io")
    try:
        time.sleep(2)
        for trial in range(trials):
            name = f"bench-grant-{trial}"
            body = json.dumps(permission(name, "User", caller, family))
            assert as_caller() == 403
            since = time.monotonic()
            cluster.kubectl("apply", "-f", "-", input=body)
            results["grant"].append(
                (first(as_caller, allowed, since), permissions.after(name, since))
            )
            since = time.monotonic()
            cluster.kubectl("delete", "rtperm", name, "-n", NS)
            results["revoke"].append((first(as_caller, 403, since), permissions.after(name, since)))
            old, esc_token = esc_token, tokens.issue("portal", "esc", KEY)
            since = time.monotonic()
            publish_esc(cluster, esc_token)
            results["reset"].append((first(as_esc(old), 401, since), escs.after("portal", since)))
            first(as_esc(esc_token), allowed, time.monotonic())
    finally:
        permissions.stop()
        escs.stop()
        client.close()


def permission(name: str, kind: str, subject: str, family: str) -> dict[str, Any]:
    return {
        "apiVersion": API,
        "kind": "Permission",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "subject": {"kind": kind, "name": subject},
            "scope": "call_job",
            "resource": {"family": family},
        },
    }


def publish_esc(cluster: LocalCluster, token: str) -> None:
    cluster.kubectl(
        "patch",
        "esc",
        "portal",
        "-n",
        NS,
        "--subresource=status",
        "--type=merge",
        "-p",
        json.dumps(
            {"status": {"token": {"secretName": "portal", "hashes": [tokens.token_hash(token)]}}}
        ),
    )


def report(results: dict[str, list[tuple[float, float]]]) -> None:
    print(
        "\nseconds from the change to the first call showing it (baseline: a plain watch "
        "seeing the change), target < 1 s"
    )
    print(
        f"{'change':<7} {'gateway p50':>12} {'p95':>7} {'max':>7} {'watch p50':>10} "
        f"{'added p50':>10} {'ratio':>6}"
    )
    for change, pairs in results.items():
        ours = sorted(p[0] for p in pairs)
        floor = sorted(p[1] for p in pairs)
        added = sorted(a - b for a, b in pairs)
        p95 = ours[min(len(ours) - 1, int(0.95 * len(ours)))]
        print(
            f"{change:<7} {statistics.median(ours):>12.3f} {p95:>7.3f} {ours[-1]:>7.3f} "
            f"{statistics.median(floor):>10.3f} {statistics.median(added):>10.3f} "
            f"{statistics.median(ours) / max(statistics.median(floor), 1e-3):>6.2f}"
        )


if __name__ == "__main__":
    raise SystemExit(main())
