"""Helpers for the build tests on the real node: sources pushed to the dev git server, Jobs
applied and waited for, and calls to them (a module of its own: ``conftest`` names clash)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from realnode_helpers import call_in_node, eventually  # type: ignore[import-not-found]

from racetrack_devcluster import addons
from racetrack_devcluster.launcher import LocalCluster
from racetrack_devcluster.realnode.wheels import write_wheel

JOBS = Path(__file__).parent / "jobs"
GREETING = {"racetrack_test_greeting.py": "def greet(name):\n    return f'Hello, {name}!'\n"}


def handle(cluster: LocalCluster) -> Any:
    assert cluster.real is not None
    return cluster.real


def provide_greeting_wheel(cluster: LocalCluster) -> None:
    """The greeter's one requirement, in the wheel folder builds install from."""
    assert cluster.options.real_node is not None
    write_wheel(cluster.options.real_node.wheels, "racetrack-test-greeting", "1.0.0", GREETING)


def git(tree: Path, cluster: LocalCluster, *args: str) -> str:
    env = {**os.environ, "GIT_SSL_CAINFO": str(handle(cluster).ca_file), "GIT_TERMINAL_PROMPT": "0"}
    result = subprocess.run(
        ["git", "-c", "user.email=t@example.org", "-c", "user.name=t", *args],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


def push_job(
    cluster: LocalCluster, job: str, repository: str, work: Path, branch: str = "main"
) -> str:
    """Push ``jobs/<job>`` as the root of a new repository; returns the commit pushed."""
    tree = work / repository
    shutil.copytree(JOBS / job, tree)
    git(tree, cluster, "init", "-q", "-b", branch)
    git(tree, cluster, "add", ".")
    git(tree, cluster, "commit", "-qm", f"{job} for a build test")
    git(tree, cluster, "push", "-q", f"{handle(cluster).git_url}/{repository}.git", branch)
    return git(tree, cluster, "rev-parse", "HEAD")


def job_manifest(name: str, version: str, **spec: Any) -> str:
    return json.dumps(
        {
            "apiVersion": "racetrack.io/v1alpha1",
            "kind": "Job",
            "metadata": {"name": f"{name}-v{version.replace('.', '-')}"},
            "spec": {
                "name": name,
                "version": version,
                "ownerEmail": "builds@example.org",
                **spec,
            },
        }
    )


def job_object(cluster: LocalCluster, name: str) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(cluster.kubectl("get", f"rtjob/{name}", "-o", "json").stdout)
    return found


def condition(job: dict[str, Any], type_: str) -> dict[str, Any]:
    for cond in job.get("status", {}).get("conditions") or []:
        if cond["type"] == type_:
            found: dict[str, Any] = cond
            return found
    return {}


def wait_ready(cluster: LocalCluster, name: str, timeout: int = 240) -> dict[str, Any]:
    waited = cluster.kubectl(
        "wait", f"rtjob/{name}", "--for=condition=Ready", f"--timeout={timeout}s", check=False
    )
    job = job_object(cluster, name)
    assert waited.returncode == 0, json.dumps(job.get("status"), indent=1)
    return job


def wait_built_false(cluster: LocalCluster, name: str, timeout: float = 180) -> dict[str, Any]:
    def failed() -> dict[str, Any]:
        """the Job's Built condition is False"""
        job = job_object(cluster, name)
        return job if condition(job, "Built").get("status") == "False" else {}

    found: dict[str, Any] = eventually(failed, timeout=timeout)
    return found


def perform(cluster: LocalCluster, name: str, body: object, path: str = "/api/v1/perform") -> Any:
    """Call the Job through its Service, from the node's network, as a peer pod would."""
    service = json.loads(cluster.kubectl("get", f"service/{name}", "-o", "json").stdout)
    url = f"http://{service['spec']['clusterIP']}:{service['spec']['ports'][0]['port']}{path}"
    status, answer = eventually(lambda: (r := call_in_node(cluster, url, body))[0] and r)
    assert status == 200, answer
    return json.loads(answer)


def build_jobs(cluster: LocalCluster, name: str) -> list[str]:
    listed = cluster.kubectl(
        "get", "jobs.batch", "-l", f"racetrack.io/build-of={name}", "-o", "name"
    ).stdout
    return sorted(listed.split())


@contextlib.contextmanager
def operator_with(cluster: LocalCluster, settings: dict[str, str]) -> Iterator[None]:
    """The operator with ``settings`` in place of the session's while inside; the session's
    runs again after. Never two at once: they would reconcile the same objects."""
    session = [c for c in cluster.components if c.name == addons.OPERATOR_COMPONENT]
    for component in session:
        component.stop()  # a clean stop releases the operator's Lease at once
        cluster.components.remove(component)
    addons.start_operator(cluster, settings)
    own = cluster.component(addons.OPERATOR_COMPONENT)
    try:
        yield
    finally:
        own.stop()
        cluster.components.remove(own)
        for component in session:
            component.start(append=True)
            cluster.components.append(component)
            cluster.wait("the session's operator to answer again", component.ready)
