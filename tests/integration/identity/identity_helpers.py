"""Helpers for the identity tests on the real control plane (a module of its own:
``conftest`` names are ambiguous). Everything is read the way a user would: kubectl."""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

from integration.jobs.rtjob_helpers import REPO, OperatorProcess  # type: ignore[import-not-found]
from racetrack_api import labels
from racetrack_api import tokens as codec
from racetrack_devcluster.launcher import LocalCluster
from support import eventually  # type: ignore[import-not-found]

__all__ = ["REPO", "OperatorProcess", "eventually"]


def get(cluster: LocalCluster, kind: str, name: str, namespace: str | None = None) -> Any:
    """The object as JSON, or None when it does not exist."""
    scope = ["-n", namespace] if namespace else []
    found = cluster.kubectl("get", kind, name, *scope, "-o", "json", check=False)
    if found.returncode != 0:
        if "NotFound" in found.stderr:
            return None
        raise AssertionError(found.stderr)
    return json.loads(found.stdout)


def token_status(cluster: LocalCluster, kind: str, name: str, namespace: str | None = None) -> Any:
    found = get(cluster, kind, name, namespace) or {}
    return (found.get("status") or {}).get("token")


def hashes(cluster: LocalCluster, kind: str, name: str, namespace: str | None = None) -> list[str]:
    return list((token_status(cluster, kind, name, namespace) or {}).get("hashes") or [])


def ready(cluster: LocalCluster, kind: str, name: str, namespace: str | None = None) -> str:
    """``True/Reason`` of the Ready condition, or ""."""
    found = get(cluster, kind, name, namespace) or {}
    for cond in (found.get("status") or {}).get("conditions") or []:
        if cond["type"] == "Ready":
            return f"{cond['status']}/{cond['reason']}"
    return ""


def secret_value(cluster: LocalCluster, namespace: str, name: str, key: str) -> str | None:
    secret = get(cluster, "secret", name, namespace)
    if secret is None or key not in (secret.get("data") or {}):
        return None
    return base64.b64decode(secret["data"][key]).decode()


def auth_key(cluster: LocalCluster, platform: str) -> str:
    value = secret_value(cluster, platform, labels.AUTH_KEY_SECRET, labels.AUTH_KEY_KEY)
    assert value, "the operator made no auth key"
    return value


def published_token(
    cluster: LocalCluster, kind: str, name: str, namespace: str | None = None
) -> str | None:
    """The token in the subject's Secret, once the subject publishes its hash."""
    status = token_status(cluster, kind, name, namespace)
    if not status or not status.get("hashes"):
        return None
    token = secret_value(cluster, status["secretNamespace"], status["secretName"], "token")
    if token is None or codec.token_hash(token) != status["hashes"][0]:
        return None
    return token


def wait_token(
    cluster: LocalCluster,
    kind: str,
    name: str,
    namespace: str | None = None,
    other_than: str | None = None,
) -> str:
    """Wait until the subject publishes a token (``other_than``: a new one)."""

    def found() -> str | None:
        token = published_token(cluster, kind, name, namespace)
        return token if token and token != other_than else None

    result: str = eventually(found, 60, f"{kind} {name} publishes a new token")
    return result


def racetrack(*args: str, kubeconfig: Path) -> subprocess.CompletedProcess[str]:
    """The ``racetrack`` command, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "racetrack_cli.main", *args, "--kubeconfig", str(kubeconfig)],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
    )


def metrics_text(operator: OperatorProcess) -> str:
    found = re.findall(r"Serving metrics on port (\d+)", operator.logs())
    assert found, "the operator serves no metrics"
    with urllib.request.urlopen(f"http://127.0.0.1:{found[-1]}/metrics", timeout=10) as answer:
        text: str = answer.read().decode()
    return text


def apply(cluster: LocalCluster, document: dict[str, Any], namespace: str | None = None) -> None:
    scope = ["-n", namespace] if namespace else []
    cluster.kubectl("apply", *scope, "-f", "-", input=json.dumps(document))
