"""Killing the operator mid-reconcile and starting it again converges to the same objects.

No duplicates, nothing orphaned, no second rollout caused by the restart itself (rendering is
deterministic, so a restarted operator finds every child up to date and writes nothing, and
compares them with what its watches listed, reading none of them one by one).
"""

from __future__ import annotations

import json
import re
import select
import subprocess
import urllib.request
from typing import Any

import pytest
import yaml
from rtjob_helpers import REPO, OperatorProcess  # type: ignore[import-not-found]

from racetrack_devcluster.launcher import LocalCluster
from support import eventually, job_ready  # type: ignore[import-not-found]

pytestmark = pytest.mark.cluster

FAMILIES = ("alpha", "beta", "gamma", "delta")
VERSIONS = 10


def jobs_manifest() -> str:
    base = yaml.safe_load((REPO / "examples" / "adder.yaml").read_text())
    docs = []
    for family in FAMILIES:
        for minor in range(VERSIONS):
            job = json.loads(json.dumps(base))
            job["metadata"]["name"] = f"{family}-v1-{minor}-0"
            job["spec"].update(name=family, version=f"1.{minor}.0", replicas=1)
            docs.append(job)
    return yaml.safe_dump_all(docs)


def items(cluster: LocalCluster, namespace: str, resource: str) -> list[dict[str, Any]]:
    out = cluster.kubectl("get", resource, "-n", namespace, "-o", "json").stdout
    found: list[dict[str, Any]] = json.loads(out)["items"]
    return found


# What only the operator writes: children, families and Job status.
OPERATOR_WRITES = {
    ("apps", "deployments", ""),
    ("", "services", ""),
    ("racetrack.io", "jobfamilies", ""),
    ("racetrack.io", "jobfamilies", "status"),
    ("racetrack.io", "jobs", "status"),
}


def operator_write_requests(cluster: LocalCluster) -> int:
    """Write requests the API server received for OPERATOR_WRITES, refused ones included."""
    return sum(
        count
        for labels, count in cluster.api_requests()
        if labels.get("verb") in ("POST", "PUT", "PATCH", "DELETE")
        and (labels.get("group"), labels.get("resource"), labels.get("subresource"))
        in OPERATOR_WRITES
    )


# What a restarted operator would read per Job if it did not trust its watches.
CHILD_READS = {("apps", "deployments"), ("", "services"), ("racetrack.io", "jobs")}


def child_reads(cluster: LocalCluster) -> int:
    """GETs of single Deployments, Services and Jobs the API server answered (any client)."""
    return sum(
        count
        for labels, count in cluster.api_requests()
        if labels.get("verb") == "GET"
        and not labels.get("subresource")
        and (labels.get("group"), labels.get("resource")) in CHILD_READS
    )


def test_killed_operator_restarts_and_converges_without_duplicates(
    crds: LocalCluster, namespace: str, operator_process: OperatorProcess
) -> None:
    total = len(FAMILIES) * VERSIONS
    # Killed the moment its first Deployment appears: polling with kubectl is too slow for an
    # operator that makes 40 Jobs Ready in under a second on a quiet machine.
    watcher = subprocess.Popen(
        [str(crds.binaries.kubectl), f"--kubeconfig={crds.kubeconfig}", "get", "deployments",
         "-n", namespace, "--watch", "-o", "name"],
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        crds.kubectl("apply", "-n", namespace, "-f", "-", input=jobs_manifest())
        assert watcher.stdout is not None
        appeared, _, _ = select.select([watcher.stdout], [], [], 60)
        assert appeared, "no Deployment within 60 s"
        operator_process.kill()
    finally:
        watcher.kill()
        watcher.wait()
    at_kill = items(crds, namespace, "rtjobs")
    assert sum(job_ready(job) for job in at_kill) < total, "the kill came too late to be mid-way"

    operator_process.start()
    jobs = eventually(
        lambda: (js := items(crds, namespace, "rtjobs")) and all(job_ready(j) for j in js) and js,
        120,
        "every Job Ready after the restart",
    )
    assert len(jobs) == total
    uids = {job["metadata"]["name"]: job["metadata"]["uid"] for job in jobs}

    for resource in ("deployments", "services"):
        children = items(crds, namespace, resource)
        assert sorted(c["metadata"]["name"] for c in children) == sorted(uids)
        for child in children:
            (owner,) = child["metadata"]["ownerReferences"]
            assert owner["uid"] == uids[child["metadata"]["name"]], "owned by its own Job"
    for deployment in items(crds, namespace, "deployments"):
        # One rollout only: the restart did not render anything differently.
        assert deployment["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "1"
    assert len(items(crds, namespace, "replicasets")) == total

    def settled(family: dict[str, Any]) -> bool:
        status = family.get("status", {})
        versions = status.get("versions", [])
        return status.get("latest") == f"1.{VERSIONS - 1}.0" and all(
            v.get("ready") for v in versions
        )

    families = eventually(
        lambda: (fs := items(crds, namespace, "jobfamilies.racetrack.io")) and all(
            settled(f) for f in fs) and fs,
        60,
        "every family lists its latest version and every version ready",
    )  # fmt: skip
    assert sorted(f["metadata"]["name"] for f in families) == sorted(FAMILIES)
    for family in families:
        assert len(family["status"]["versions"]) == VERSIONS

    # Converged includes the purge scores: a Job that turned Ready before its family was
    # known gets its score from the purge timer's next pass, a few seconds later.
    eventually(
        lambda: all("purge" in j.get("status", {}) for j in items(crds, namespace, "rtjobs")),
        60,
        "every Job scored for purging",
    )
    # A second, clean restart over a converged namespace writes nothing to the children, and
    # does not even try (a create answered "already exists" is load on the API server too).
    before = {d["metadata"]["name"]: d["metadata"]["resourceVersion"] for d in items(
        crds, namespace, "deployments")}  # fmt: skip
    operator_process.stop()
    requests_before = operator_write_requests(crds)
    reads_before = child_reads(crds)
    operator_process.start()

    def reconciled() -> bool:
        """the restarted operator reconciled every Job (its own metrics say so)"""
        found = re.findall(r"Serving metrics on port (\d+)", operator_process.logs())
        if len(found) < operator_process.starts:
            return False
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{found[-1]}/metrics") as answer:
                text = answer.read().decode()
        except OSError:
            return False
        ok = re.search(r'racetrack_operator_reconciles_total\{kind="Job",result="ok"\} (\S+)', text)
        return ok is not None and float(ok.group(1)) >= total

    eventually(reconciled, 120)
    after = {d["metadata"]["name"]: d["metadata"]["resourceVersion"] for d in items(
        crds, namespace, "deployments")}  # fmt: skip
    assert after == before
    assert operator_write_requests(crds) == requests_before
    # Nor reads them one by one: its watches listed every Deployment and Service.
    assert child_reads(crds) == reads_before
