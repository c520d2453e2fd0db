"""``racetrack deploy``, ``list`` and ``delete`` against the real control plane and the
operator, as a user runs them: job folders from examples/jobs, unchanged.

Nodes are simulated here, so the Jobs run prebuilt images (``--image``); the real-node tier
builds from the folder and calls the job through the gateway (test_realnode_cli.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from typing import Any

import pytest
import yaml
from rtjob_helpers import REPO, OperatorProcess  # type: ignore[import-not-found]

from racetrack_devcluster.launcher import LocalCluster

pytestmark = pytest.mark.cluster

JOBS = REPO / "examples" / "jobs"
IMAGE = "registry.example.org/racetrack/job-entrypoint/totals:1.0.0"


def racetrack(
    cluster: LocalCluster, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KUBECONFIG": str(cluster.kubeconfig), "NO_COLOR": ""}
    env.pop("RACETRACK_GATEWAY", None)
    return subprocess.run(
        [sys.executable, "-m", "racetrack_cli.main", *args],
        env=env, input=stdin, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


def get(cluster: LocalCluster, namespace: str, *what: str) -> dict[str, Any] | None:
    got = cluster.kubectl("get", *what, "-n", namespace, "-o", "json", check=False)
    return json.loads(got.stdout) if got.returncode == 0 else None


def eventually_gone(cluster: LocalCluster, namespace: str, *what: str) -> None:
    deadline = time.monotonic() + 60
    while get(cluster, namespace, *what) is not None:
        assert time.monotonic() < deadline, f"{what} is still there"
        time.sleep(0.5)


def test_deploy_a_job_folder_list_it_redeploy_it_and_delete_it(
    crds: LocalCluster, namespace: str, operator_process: OperatorProcess
) -> None:
    deployed = racetrack(
        crds, "deploy", str(JOBS / "overlays"), "-n", namespace, "--image", IMAGE,
        "-e", "replicas=1", "-e", 'labels={"tier": 1, "team": "ml"}',
        "--gateway", "http://gateway.example:8080",
    )  # fmt: skip
    assert deployed.returncode == 0, deployed.stderr
    assert deployed.stdout.splitlines() == [
        "Job totals-dev-v1-0-0 is ready",
        "Name:  totals-dev 1.0.0",
        f"Image: {IMAGE}",
        "URL:   http://gateway.example:8080/pub/job/totals-dev/1.0.0/api/v1/perform",
    ]
    assert "Deploying totals-dev 1.0.0 as rtjob/totals-dev-v1-0-0" in deployed.stderr
    assert "  ready" in deployed.stderr

    job = get(crds, namespace, "rtjob", "totals-dev-v1-0-0")
    assert job is not None
    # The overlay merged over job-base.yaml, then the -e overrides.
    assert job["spec"]["runtimeEnv"] == {"CURRENCY": "PLN", "ROUNDING": "2"}
    assert job["spec"]["resources"] == {"cpuMin": "50m", "cpuMax": "500m", "memoryMin": "256Mi"}
    assert job["spec"]["replicas"] == 1
    assert job["spec"]["labels"] == {"tier": "1", "team": "ml"}
    assert job["spec"]["jobtypeExtra"] == {"entrypoint_path": "entrypoint.py"}
    managed = get(crds, namespace, "rtjob", "totals-dev-v1-0-0", "--show-managed-fields")
    managers = {entry["manager"] for entry in (managed or {})["metadata"]["managedFields"]}
    assert "racetrack-cli" in managers  # server-side apply, as our field manager

    listed = racetrack(crds, "list", "-n", namespace)
    assert listed.returncode == 0, listed.stderr
    header, row = listed.stdout.splitlines()
    assert header.split()[:3] == ["NAME", "VERSION", "STATUS"]
    assert row.split()[:4] == ["totals-dev", "1.0.0", "ready", "JobReady"]

    again = racetrack(crds, "deploy", str(JOBS / "overlays"), "-n", namespace, "--image", IMAGE)
    assert again.returncode == 1
    assert "already deployed" in again.stderr and "--force" in again.stderr

    forced = racetrack(
        crds, "deploy", str(JOBS / "overlays"), "-n", namespace, "--image", IMAGE, "--force"
    )
    assert forced.returncode == 0, forced.stderr
    assert "Redeploying totals-dev 1.0.0" in forced.stderr
    annotations = (get(crds, namespace, "rtjob", "totals-dev-v1-0-0") or {})["metadata"][
        "annotations"
    ]
    assert annotations["racetrack.io/force"] == "true"
    assert annotations["racetrack.io/redeploy-at"]

    deleted = racetrack(crds, "delete", "totals-dev", "-n", namespace)
    assert deleted.returncode == 0, deleted.stderr
    assert "Deleted totals-dev 1.0.0" in deleted.stdout
    eventually_gone(crds, namespace, "rtjob", "totals-dev-v1-0-0")
    gone = racetrack(crds, "delete", "totals-dev", "1.0.0", "-n", namespace)
    assert gone.returncode == 1
    assert "no job named totals-dev" in gone.stderr


def test_a_secret_env_file_becomes_a_secret_owned_by_the_job(
    crds: LocalCluster, namespace: str, operator_process: OperatorProcess
) -> None:
    deployed = racetrack(
        crds, "deploy", str(JOBS / "secret-reader"), "-n", namespace, "--image", IMAGE,
        "-e", "secret_runtime_env_file=secret-runtime.env.example",
    )  # fmt: skip
    assert deployed.returncode == 0, deployed.stderr
    job = get(crds, namespace, "rtjob", "secret-reader-v1-0-0")
    secret = get(crds, namespace, "secret", "secret-reader-v1-0-0-runtime-env")
    assert job is not None and secret is not None
    assert job["spec"]["secretRuntimeEnv"] == {"name": "secret-reader-v1-0-0-runtime-env"}
    assert list(secret["data"]) == ["SIGNING_KEY"]
    [owner] = secret["metadata"]["ownerReferences"]
    assert (owner["kind"], owner["uid"]) == ("Job", job["metadata"]["uid"])
    assert "change-me" not in deployed.stdout + deployed.stderr

    # Deleting the Job takes its Secret with it (the garbage collector follows the owner).
    assert racetrack(crds, "delete", "secret-reader", "1.0.0", "-n", namespace).returncode == 0
    eventually_gone(crds, namespace, "secret", "secret-reader-v1-0-0-runtime-env")


def test_a_job_that_cannot_deploy_fails_with_the_reason(
    crds: LocalCluster, namespace: str, operator_process: OperatorProcess
) -> None:
    failed = racetrack(
        crds, "deploy", str(JOBS / "primer"), "-n", namespace, "--image", IMAGE,
        "-e", "jobtype=cobol:1.0.0",
    )  # fmt: skip
    assert failed.returncode == 1
    assert "the deploy failed: UnknownJobType" in failed.stderr
    assert "  failed" in failed.stderr


def test_a_bad_manifest_is_refused_before_anything_is_applied(
    crds: LocalCluster, namespace: str
) -> None:
    refused = racetrack(
        crds, "deploy", str(JOBS / "adder"), "-n", namespace, "-e", "git.remote=git@x:o/r.git"
    )
    assert refused.returncode == 2
    assert "racetrack deploy: git.remote: " in refused.stderr
    assert "https://" in refused.stderr
    assert get(crds, namespace, "rtjob", "adder-v1-0-0") is None


FOLDERS = sorted(path.name for path in JOBS.iterdir() if (path / "job.yaml").is_file())


@pytest.mark.parametrize("folder", FOLDERS)
def test_the_dry_run_of_every_example_folder_is_accepted_by_the_api_server(
    crds: LocalCluster, namespace: str, folder: str
) -> None:
    extra = ["-e", "secret_runtime_env_file=secret-runtime.env.example"]
    printed = racetrack(
        crds, "deploy", str(JOBS / folder), "--dry-run", *(extra if "secret" in folder else [])
    )
    assert printed.returncode == 0, printed.stderr
    job = yaml.safe_load(printed.stdout)
    assert "namespace" not in job["metadata"]  # for `kubectl apply -n`, as GitOps wants
    applied = crds.kubectl(
        "apply", "--dry-run=server", "-n", namespace, "-f", "-", "-o", "json",
        input=printed.stdout,
    )  # fmt: skip
    assert json.loads(applied.stdout)["spec"]["name"] == job["spec"]["name"]
