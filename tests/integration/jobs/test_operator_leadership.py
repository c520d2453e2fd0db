"""Two operator processes on the real control plane: one holds the Lease and reconciles, the
other waits; the waiting one takes over at once when the holder stops cleanly, after the
Lease's duration when it is killed, and a holder whose Lease someone else took stops
reconciling and exits.
"""

from __future__ import annotations

import datetime
import json
import signal
from pathlib import Path
from typing import Any

import pytest
import yaml
from rtjob_helpers import REPO, OperatorProcess  # type: ignore[import-not-found]

from racetrack_devcluster.launcher import LocalCluster
from racetrack_operator.leadership import lease_name
from support import eventually  # type: ignore[import-not-found]

pytestmark = pytest.mark.cluster

PLATFORM = "racetrack-system"
LEASE_SECONDS = 4


def operator(cluster: LocalCluster, tmp_path: Path, namespace: str, name: str) -> OperatorProcess:
    log_dir = tmp_path / name
    log_dir.mkdir()
    return OperatorProcess(
        cluster.kubeconfig,
        log_dir,
        {
            "RACETRACK_NAMESPACES": namespace,
            "RACETRACK_IDENTITY": name,
            "RACETRACK_LEASE_SECONDS": str(LEASE_SECONDS),
            "RACETRACK_METRICS_PORT": "0",
            "RACETRACK_LIVENESS_ENDPOINT": "",
        },
    )


def lease(cluster: LocalCluster, namespace: str) -> dict[str, Any]:
    out = cluster.kubectl(
        "get", "lease", lease_name([namespace, PLATFORM]), "-n", PLATFORM, "-o", "json",
        check=False,
    )  # fmt: skip
    return json.loads(out.stdout) if out.returncode == 0 else {}


def holder(cluster: LocalCluster, namespace: str) -> str | None:
    spec: dict[str, Any] = lease(cluster, namespace).get("spec") or {}
    return spec.get("holderIdentity")


def now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def deploy_job(cluster: LocalCluster, namespace: str, version: str) -> str:
    job = yaml.safe_load((REPO / "examples" / "adder.yaml").read_text())
    name = f"adder-v{version.replace('.', '-')}"
    job["metadata"] = {"name": name, "namespace": namespace}
    job["spec"]["version"] = version
    cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump(job))
    return name


def reconciled(cluster: LocalCluster, namespace: str, name: str) -> bool:
    out = cluster.kubectl("get", "rtjob", name, "-n", namespace, "-o", "json").stdout
    status = json.loads(out).get("status") or {}
    return status.get("observedGeneration") == 1


def test_a_second_operator_waits_and_takes_over_when_the_first_goes(
    crds: LocalCluster, namespace: str, tmp_path: Path
) -> None:
    first = operator(crds, tmp_path, namespace, "first")
    second = operator(crds, tmp_path, namespace, "second")
    third = operator(crds, tmp_path, namespace, "third")
    try:
        first.start()
        eventually(lambda: holder(crds, namespace) == "first", 60, "first takes the Lease")
        second.start()
        eventually(lambda: "Waiting for the operator's Lease" in second.logs(), 60, "second waits")
        job = deploy_job(crds, namespace, "1.0.0")
        eventually(lambda: reconciled(crds, namespace, job), 60, "the first reconciles")
        # Several renewals later, the Lease is still the first's and the second only waits.
        eventually(
            lambda: (
                int(lease(crds, namespace)["spec"].get("leaseTransitions") or 0) == 0
                and "Took the operator's Lease" not in second.logs()
                and first.logs().count("Took the operator's Lease") == 1
            ),
            5,
            "the second keeps waiting",
        )
        assert holder(crds, namespace) == "first"
        assert "racetrack-startup" in first.logs()
        assert "racetrack-startup" not in second.logs()

        # A clean stop (a rolling update) releases the Lease: the second takes over at once.
        first.stop()
        assert first.process is not None and first.process.returncode == 0, first.logs()[-3000:]
        eventually(lambda: holder(crds, namespace) == "second", LEASE_SECONDS, "second takes over")
        job = deploy_job(crds, namespace, "1.0.1")
        eventually(lambda: reconciled(crds, namespace, job), 60, "the second reconciles")

        # A holder that dies holds the Lease until it expires; then a waiting one takes it.
        third.start()
        eventually(lambda: "Waiting for the operator's Lease" in third.logs(), 60, "third waits")
        second.kill()
        eventually(lambda: holder(crds, namespace) == "third", 60, "third takes over")
        job = deploy_job(crds, namespace, "1.0.2")
        eventually(lambda: reconciled(crds, namespace, job), 60, "the third reconciles")
    finally:
        for process in (first, second, third):
            process.stop()


def test_a_holder_whose_lease_was_taken_stops_reconciling_and_exits(
    crds: LocalCluster, namespace: str, tmp_path: Path
) -> None:
    only = operator(crds, tmp_path, namespace, "only")
    try:
        only.start()
        eventually(lambda: holder(crds, namespace) == "only", 60, "it takes the Lease")
        # Someone else takes the Lease over (as a replica would after a network partition in
        # which this one could not renew).
        taken = lease(crds, namespace)
        taken["spec"]["holderIdentity"] = "someone-else"
        taken["spec"]["leaseDurationSeconds"] = 600
        taken["spec"]["renewTime"] = taken["spec"]["acquireTime"] = now()
        crds.kubectl("replace", "-f", "-", input=json.dumps(taken))
        assert only.process is not None
        eventually(lambda: only.process.poll() is not None, 60, "the operator exits")
        assert only.process.returncode == 1, only.logs()[-3000:]
        assert "holds the operator's Lease now; stopped reconciling" in only.logs()
        assert "Lost the operator's Lease" in only.logs()
        assert holder(crds, namespace) == "someone-else"
    finally:
        if only.process is not None and only.process.poll() is None:
            only.process.send_signal(signal.SIGTERM)
        only.stop()
