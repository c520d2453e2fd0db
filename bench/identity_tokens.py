"""What caller tokens cost the operator, and how long a key rotation takes, at scale.

Run: ``python bench/identity_tokens.py [--families N] [--users N]`` (default 1,000 each)

One fresh local control plane (simulated nodes), the operator watching one namespace (and
the platform namespace). Every figure sits next to a floor measured in the same run on the
same cluster: the writes a token needs, made directly by 16 parallel clients with no
operator (a Secret of the same size created or replaced, and a status patch of a JobFamily
in a namespace the operator does not watch). ``ratio = operator / floor``.

- issue: N JobFamilies and N active Users created by 16 parallel clients while the operator
  runs (the floor creates as many JobFamilies); time until every one publishes its token
  hash; the operator's CPU per token (from /proc), the API server's and etcd's CPU against
  the floor's, and the writes the API server served per kind. Users are created marked as
  already granted their default Permissions, so that tokens alone are measured (a new
  User's defaults are four Permission creates on top). With ``--jobs K`` the first K
  families then get a running Job each (simulated pods).
- rotation: the key rotated by annotation; time until every subject publishes a new hash,
  with the same CPU and write figures; the floor replaces as many Secrets and patches as
  many statuses. A rotation tells each subject by its status alone: one event on the key
  Secret says why. With ``--jobs K``, also the time until every one of those Jobs has rolled
  its pods onto its family's new token (a Deployment update each).
- restart: the operator restarted over all those subjects: time until its metrics say it has
  looked at every one, and the writes made meanwhile to subjects, Secrets and Permissions
  (there should be none).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import secrets
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import urllib3
from kubernetes import client, watch

from racetrack_api import labels
from racetrack_devcluster import addons
from racetrack_devcluster.build import BinaryCache
from racetrack_devcluster.launcher import ClusterOptions, LocalCluster
from racetrack_devcluster.processes import resident_mib

GROUP, VERSION = "racetrack.io", "v1alpha1"
BENCH_NAMESPACE = "bench-identity"
FLOOR_NAMESPACE = "bench-floor"
PLATFORM = addons.NAMESPACES[0]
PARALLEL_CLIENTS = 16
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def component_pid(cluster: LocalCluster, name: str) -> int:
    found = next(c for c in cluster.components if c.name == name)
    return int(found.pid or 0)


class Cpu:
    """CPU seconds of the operator, the API server and etcd over a phase."""

    def __init__(self, cluster: LocalCluster) -> None:
        self.cluster = cluster
        self.names = ("racetrack-operator", "kube-apiserver", "etcd")
        self.start = self._now()

    def _now(self) -> dict[str, float]:
        out = {}
        for name in self.names:
            if any(c.name == name for c in self.cluster.components):
                out[name] = cpu_seconds(component_pid(self.cluster, name))
        return out

    def used(self) -> dict[str, float]:
        now = self._now()
        return {name: now[name] - self.start.get(name, 0.0) for name in now}


def writes(cluster: LocalCluster) -> dict[str, int]:
    """Successful writes the API server served, by resource (and subresource)."""
    out: dict[str, int] = {}
    for found, count in cluster.api_requests():
        if found.get("verb") in ("POST", "PUT", "PATCH", "DELETE") and found.get(
            "code", ""
        ).startswith("2"):
            resource = found.get("resource", "")
            if found.get("subresource"):
                resource += "/" + found["subresource"]
            out[resource] = out.get(resource, 0) + count
    return out


def delta(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    return {k: v - before.get(k, 0) for k, v in after.items() if v != before.get(k, 0)}


class Published:
    """The first published hash of every subject of one kind, from a watch (no polling)."""

    def __init__(self, list_call: Callable[..., Any]) -> None:
        self.hashes: dict[str, str] = {}
        self._changed = threading.Condition()
        self._watch = watch.Watch()
        self._stopped = False
        threading.Thread(target=self._run, args=(list_call,), daemon=True).start()

    def _run(self, list_call: Callable[..., Any]) -> None:
        while not self._stopped:
            try:
                for event in self._watch.stream(list_call):
                    obj = event["object"]
                    token = (obj.get("status") or {}).get("token") or {}
                    with self._changed:
                        self.hashes[obj["metadata"]["name"]] = (token.get("hashes") or [""])[0]
                        self._changed.notify_all()
            except (urllib3.exceptions.HTTPError, client.ApiException):
                time.sleep(0.1)

    def wait(self, names: set[str], old: dict[str, str], timeout: float) -> float:
        """Until each of ``names`` publishes a hash other than ``old`` (or "" for none)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                pending = [n for n in names if self.hashes.get(n, "") in ("", old.get(n))]
                if not pending:
                    return time.monotonic()
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{len(pending)} of {len(names)} not published")
                self._changed.wait(min(left, 1.0))

    def stop(self) -> None:
        self._stopped = True
        self._watch.stop()


def run_all(work: Callable[[int], None], count: int) -> None:
    with ThreadPoolExecutor(PARALLEL_CLIENTS) as pool:
        list(pool.map(work, range(count)))


def start_operator(cluster: LocalCluster) -> str:
    """The operator as a cluster component, watching the bench namespace (and the platform
    namespace), once started; returns its metrics URL."""
    port = cluster.ports.claim("racetrack-operator metrics")
    cluster.spawn(
        "racetrack-operator",
        [sys.executable, "-m", "racetrack_operator"],
        env={
            "KUBECONFIG": str(cluster.kubeconfig),
            "RACETRACK_NAMESPACES": BENCH_NAMESPACE,
            "RACETRACK_METRICS_PORT": str(port),
            "RACETRACK_LIVENESS_ENDPOINT": "",
            "PYTHONUNBUFFERED": "1",
            "PATH": os.environ.get("PATH", ""),
        },
    )
    log = cluster.log_dir / "racetrack-operator.log"
    cluster.wait(
        "the operator's start",
        lambda: log.exists() and "Racetrack operator started" in log.read_text(),
    )
    return f"http://127.0.0.1:{port}/metrics"


def reconciled(metrics_url: str) -> dict[str, float]:
    try:
        with urllib.request.urlopen(metrics_url, timeout=5) as answer:
            text = answer.read().decode()
    except OSError:
        return {}
    pattern = r'^racetrack_operator_reconciles_total\{kind="(\w+)",result="ok"\} (\S+)$'
    return {kind: float(count) for kind, count in re.findall(pattern, text, re.M)}


class Bench:
    def __init__(self, cluster: LocalCluster, families: int, users: int) -> None:
        api = cluster.api_client()
        self.cluster = cluster
        self.custom = client.CustomObjectsApi(api)
        self.core = client.CoreV1Api(api)
        for namespace in (BENCH_NAMESPACE, FLOOR_NAMESPACE):
            body: Any = {"metadata": {"name": namespace}}
            self.core.create_namespace(body)
        self.family_names = {f"family-{i}" for i in range(families)}
        self.user_names = {f"user-{i}" for i in range(users)}

        def list_families(**kw: Any):  # type: ignore[no-untyped-def]  # plain dicts, see below
            return self.custom.list_namespaced_custom_object(
                GROUP, VERSION, BENCH_NAMESPACE, "jobfamilies", **kw
            )

        def list_users(**kw: Any):  # type: ignore[no-untyped-def]
            return self.custom.list_cluster_custom_object(GROUP, VERSION, "users", **kw)

        # No return annotation on the list calls: the watch then yields plain dicts.
        self.families = Published(list_families)
        self.users = Published(list_users)

    # -- the floor: the same writes, made directly ---------------------------------------

    def floor(self, count: int, replace: bool) -> float:
        """``count`` JobFamilies and Secrets (token-sized) created, or the Secrets replaced,
        and as many status patches."""
        value = base64.b64encode(secrets.token_urlsafe(180).encode()).decode()

        def secret(index: int) -> Any:  # the client serialises plain dicts as they are
            return {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": f"floor-{index}", "annotations": {"n": str(index)}},
                "data": {"token": value},
            }

        def status(index: int) -> dict[str, Any]:
            token = {"secretName": f"floor-{index}", "hashes": [secrets.token_hex(32)]}
            issued_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            return {"status": {"token": {**token, "issuedAt": issued_at}}}

        def one(index: int) -> None:
            if replace:
                self.core.replace_namespaced_secret(
                    f"floor-{index}", FLOOR_NAMESPACE, secret(index)
                )
            else:
                # The subject itself too, as the operator's run creates its subjects.
                body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "JobFamily",
                        "metadata": {"name": f"floor-{index}"}, "spec": {}}  # fmt: skip
                self.custom.create_namespaced_custom_object(
                    GROUP, VERSION, FLOOR_NAMESPACE, "jobfamilies", body
                )
                self.core.create_namespaced_secret(FLOOR_NAMESPACE, secret(index))
            self.custom.patch_namespaced_custom_object_status(
                GROUP, VERSION, FLOOR_NAMESPACE, "jobfamilies", f"floor-{index}",
                status(index),
            )  # fmt: skip

        started = time.monotonic()
        run_all(one, count)
        return time.monotonic() - started

    # -- the subjects ----------------------------------------------------------------------

    def create_subjects(self) -> None:
        families = sorted(self.family_names)
        users = sorted(self.user_names)

        def one(index: int) -> None:
            if index < len(families):
                body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "JobFamily",
                        "metadata": {"name": families[index]}, "spec": {}}  # fmt: skip
                self.custom.create_namespaced_custom_object(
                    GROUP, VERSION, BENCH_NAMESPACE, "jobfamilies", body
                )
            else:
                name = users[index - len(families)]
                granted = {labels.ANNOTATION_DEFAULT_PERMISSIONS: "granted before the bench"}
                body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "User",
                        "metadata": {"name": name, "annotations": granted},
                        "spec": {"active": True}}  # fmt: skip
                self.custom.create_cluster_custom_object(GROUP, VERSION, "users", body)

        run_all(one, len(families) + len(users))

    def wait_published(self, old: dict[str, str], timeout: float) -> float:
        last = self.families.wait(self.family_names, old, timeout)
        return max(last, self.users.wait(self.user_names, old, timeout))

    def published(self) -> dict[str, str]:
        return {**self.families.hashes, **self.users.hashes}

    def rotate(self) -> None:
        patch: Any = {"metadata": {"annotations": {labels.ANNOTATION_ROTATE_KEY_AT: "bench"}}}
        self.core.patch_namespaced_secret(labels.AUTH_KEY_SECRET, PLATFORM, patch)

    def create_jobs(self, count: int) -> None:
        """One Job (a prebuilt image, one replica) in each of the first ``count`` families."""

        def one(index: int) -> None:
            body = {
                "apiVersion": f"{GROUP}/{VERSION}",
                "kind": "Job",
                "metadata": {"name": f"job-{index}"},
                "spec": {
                    "name": f"family-{index}",
                    "version": "1.0.0",
                    "ownerEmail": "bench@example.org",
                    "jobtype": "python3:latest",
                    "image": "registry.invalid/bench/job:1",
                    "jobtypeExtra": {"entrypoint_path": "entrypoint.py"},
                    "replicas": 1,
                },
            }
            self.custom.create_namespaced_custom_object(
                GROUP, VERSION, BENCH_NAMESPACE, "jobs", body
            )

        run_all(one, count)

    def rolled_out(self, count: int, old: dict[str, str]) -> dict[str, str]:
        """Each Job's pod template revision, once all ``count`` Deployments carry one other
        than in ``old`` and have rolled out to it (None until then)."""
        listed = self.cluster.kubectl("get", "deployments", "-n", BENCH_NAMESPACE, "-o", "json")
        revisions = {}
        for deployment in json.loads(listed.stdout)["items"]:
            template = deployment["spec"]["template"]["metadata"]
            revision = (template.get("annotations") or {}).get("racetrack.io/family-token", "")
            status, wanted = deployment.get("status") or {}, deployment["spec"]["replicas"]
            done = (
                status.get("observedGeneration") == deployment["metadata"]["generation"]
                and status.get("updatedReplicas") == wanted
                and status.get("availableReplicas") == wanted
            )
            name = deployment["metadata"]["name"]
            if revision and revision != old.get(name) and done:
                revisions[name] = revision
        return revisions if len(revisions) == count else {}

    def stop(self) -> None:
        self.families.stop()
        self.users.stop()


def report(
    label: str,
    tokens: int,
    seconds: float,
    floor_seconds: float,
    cpu: dict[str, float],
    floor_cpu: dict[str, float],
    ours: dict[str, int],
) -> None:
    operator_ms = 1000 * cpu.get("racetrack-operator", 0.0) / tokens
    server = cpu.get("kube-apiserver", 0.0) + cpu.get("etcd", 0.0)
    floor_server = floor_cpu.get("kube-apiserver", 0.0) + floor_cpu.get("etcd", 0.0)
    print(
        f"  {label:<10} {tokens} tokens in {seconds:6.1f} s   floor {floor_seconds:6.1f} s   "
        f"ratio {seconds / floor_seconds:5.2f}"
    )
    print(
        f"  {'':<10} operator CPU {operator_ms:5.2f} ms per token   API server + etcd CPU "
        f"{1000 * server / tokens:5.2f} ms per token (floor {1000 * floor_server / tokens:5.2f}"
        f" ms, ratio {server / floor_server:4.2f})"
    )
    print(f"  {'':<10} writes: " + ", ".join(f"{k} {v}" for k, v in sorted(ours.items())))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families", type=int, default=1000)
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument(
        "--jobs",
        type=int,
        default=0,
        help="give that many families one running Job each, and time their pods' roll",
    )
    args = parser.parse_args()
    total = args.families + args.users

    binaries = BinaryCache().ensure()
    with tempfile.TemporaryDirectory(prefix="rt-bench-") as work:
        options = ClusterOptions(crds=addons.crds_folder(), namespaces=addons.NAMESPACES)
        with LocalCluster(binaries, Path(work) / "identity", options) as cluster:
            bench = Bench(cluster, args.families, args.users)
            try:
                floor_cpu = Cpu(cluster)
                floor_issue = bench.floor(total, replace=False)
                floor_issue_cpu = floor_cpu.used()
                floor_cpu = Cpu(cluster)
                floor_rotation = bench.floor(total, replace=True)
                floor_rotation_cpu = floor_cpu.used()

                start_operator(cluster)
                idle = resident_mib(component_pid(cluster, "racetrack-operator"))
                print(
                    f"Tokens for {args.families} JobFamilies and {args.users} Users "
                    f"(floor: a Secret and a status write per token, made directly):"
                )
                before, cpu = writes(cluster), Cpu(cluster)
                started = time.monotonic()
                bench.create_subjects()
                issued = bench.wait_published({}, timeout=1800) - started
                report(
                    "issue", total, issued, floor_issue, cpu.used(), floor_issue_cpu,
                    delta(writes(cluster), before),
                )  # fmt: skip

                revisions: dict[str, str] = {}
                if args.jobs:
                    started = time.monotonic()
                    bench.create_jobs(args.jobs)
                    while not (revisions := bench.rolled_out(args.jobs, {})):
                        if time.monotonic() - started > 1800:
                            raise TimeoutError("the Jobs did not roll out")
                        time.sleep(2.0)
                    print(
                        f"  (then {args.jobs} of the families got a running Job each, in "
                        f"{time.monotonic() - started:.0f} s)"
                    )
                first = bench.published()
                time.sleep(3.0)  # let the echoes of the last writes pass
                before, cpu = writes(cluster), Cpu(cluster)
                started = time.monotonic()
                bench.rotate()
                rotated = bench.wait_published(first, timeout=1800) - started
                report(
                    "rotation", total, rotated, floor_rotation, cpu.used(), floor_rotation_cpu,
                    delta(writes(cluster), before),
                )  # fmt: skip
                if args.jobs:
                    while not bench.rolled_out(args.jobs, revisions):
                        if time.monotonic() - started > 1800:
                            raise TimeoutError("the Jobs' pods did not roll")
                        time.sleep(1.0)
                    made = delta(writes(cluster), before)
                    print(
                        f"  {'':<10} and the pods of all {args.jobs} Jobs rolled onto their "
                        f"family's new token {time.monotonic() - started:.1f} s after the "
                        f"rotation began ({made.get('deployments', 0)} Deployment writes)"
                    )
                memory = resident_mib(component_pid(cluster, "racetrack-operator"))

                time.sleep(3.0)
                old = next(c for c in cluster.components if c.name == "racetrack-operator")
                old.stop()
                cluster.components.remove(old)
                before = writes(cluster)
                started = time.monotonic()
                metrics_url = start_operator(cluster)
                while True:
                    done = reconciled(metrics_url)
                    if (
                        done.get("JobFamily", 0) >= args.families
                        and done.get("User", 0) >= args.users
                    ):
                        break
                    if time.monotonic() - started > 600:
                        raise TimeoutError("the restarted operator did not catch up")
                    time.sleep(0.2)
                caught_up = time.monotonic() - started
                time.sleep(2.0)
                made = {
                    kind: count
                    for kind, count in delta(writes(cluster), before).items()
                    if kind.split("/")[0] in ("jobfamilies", "users", "secrets", "permissions")
                }
                print(
                    f"  restart    looked at all {total} subjects after {caught_up:.1f} s; "
                    f"writes: {sum(made.values())} {made or ''}"
                )
                print(
                    f"Operator memory: {idle:.0f} MiB idle at start, {memory:.0f} MiB with "
                    f"{total} subjects"
                )
            finally:
                bench.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
