"""Helpers for the admin command tests (imported by file name)."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

from integration.jobs.rtjob_helpers import REPO, OperatorProcess  # type: ignore[import-not-found]
from integration.webhooks.webhook_helpers import job  # type: ignore[import-not-found]
from racetrack_devcluster.launcher import LocalCluster
from support import eventually, job_ready  # type: ignore[import-not-found]

__all__ = ["REPO", "OperatorProcess", "eventually", "job"]


def racetrack(*args: str, kubeconfig: Path, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """The ``racetrack`` command as a user runs it, from a script: stdin is a pipe, never
    the terminal pytest may run on, so no colour and no question (the identity tests'
    helper inherits stdin, which a ``--delete`` would wait on)."""
    return subprocess.run(
        [sys.executable, "-m", "racetrack_cli.main", *args, "--kubeconfig", str(kubeconfig)],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
        input=stdin,
    )


def family_name(prefix: str) -> str:
    """Unique per test: audit events of every test share the platform namespace."""
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def apply(cluster: LocalCluster, document: dict[str, Any], namespace: str | None = None) -> None:
    scope = ["-n", namespace] if namespace else []
    cluster.kubectl("apply", *scope, "-f", "-", input=json.dumps(document))


def get_job(cluster: LocalCluster, namespace: str, name: str) -> dict[str, Any] | None:
    found = cluster.kubectl("get", "rtjob", name, "-n", namespace, "-o", "json", check=False)
    if found.returncode != 0:
        return None
    parsed: dict[str, Any] = json.loads(found.stdout)
    return parsed


def wait_ready(cluster: LocalCluster, namespace: str, name: str) -> dict[str, Any]:
    def ready() -> dict[str, Any] | None:
        current = get_job(cluster, namespace, name)
        return current if current and job_ready(current) else None

    result: dict[str, Any] = eventually(ready, 90, f"Job {namespace}/{name} Ready")
    return result


def wait_purge(cluster: LocalCluster, namespace: str, name: str, score: float) -> dict[str, Any]:
    def scored() -> dict[str, Any] | None:
        current = get_job(cluster, namespace, name)
        purge = ((current or {}).get("status") or {}).get("purge")
        return current if purge and purge.get("score") == score else None

    result: dict[str, Any] = eventually(scored, 60, f"{namespace}/{name} scored {score}")
    return result


def two_versions(cluster: LocalCluster, namespace: str, prefix: str) -> tuple[str, str, str]:
    """A family with versions 1.0.0 and 2.0.0, both Ready; returns (family, v1, v2)."""
    family = family_name(prefix)
    first, second = f"{family}-v1-0-0", f"{family}-v2-0-0"
    apply(cluster, job(first, namespace, family, "1.0.0"), namespace)
    apply(cluster, job(second, namespace, family, "2.0.0"), namespace)
    wait_ready(cluster, namespace, first)
    wait_ready(cluster, namespace, second)
    return family, first, second
