"""Helpers for the webhook tests on the real control plane (imported by file name)."""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from racetrack_devcluster.launcher import LocalCluster, run_kubectl
from racetrack_devcluster.webhooks import PLATFORM_NAMESPACE, DevWebhooks, client_kubeconfig
from support import eventually  # type: ignore[import-not-found]

REPO = Path(__file__).resolve().parents[3]
ADMIN = "racetrack-dev-admin"  # the cluster admin of the dev cluster's kubeconfig


class Identity:
    """kubectl as one Kubernetes user, authenticated by a client certificate."""

    def __init__(self, cluster: LocalCluster, username: str, kubeconfig: Path) -> None:
        self.cluster = cluster
        self.username = username
        self.kubeconfig = kubeconfig

    @classmethod
    def mint(cls, cluster: LocalCluster, directory: Path, username: str) -> Identity:
        path = directory / f"{uuid.uuid4().hex[:6]}.kubeconfig"
        return cls(cluster, username, client_kubeconfig(cluster, path, username))

    def kubectl(
        self, *args: str, stdin: str | None = None, check: bool = False
    ) -> subprocess.CompletedProcess[str]:
        return run_kubectl(
            self.cluster.binaries.kubectl, self.kubeconfig, *args, input=stdin, check=check
        )

    def apply(self, obj: dict[str, Any], *flags: str) -> subprocess.CompletedProcess[str]:
        return self.kubectl("apply", *flags, "-f", "-", stdin=yaml.safe_dump(obj))


def job(
    name: str,
    namespace: str,
    family: str = "adder",
    version: str = "1.0.0",
    annotations: dict[str, str] | None = None,
    **spec: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "apiVersion": "racetrack.io/v1alpha1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": namespace, "annotations": annotations or {}},
        "spec": {
            "name": family,
            "version": version,
            "ownerEmail": "ml@example.org",
            "jobtype": "python3:1.0.0",
            "image": "registry.example.org/adder:1",
            "jobtypeExtra": {"entrypoint_path": "entrypoint.py"},
            **spec,
        },
    }
    return body


def racetrack_object(
    kind: str, name: str, spec: dict[str, Any], namespace: str | None = None
) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name}
    if namespace:
        metadata["namespace"] = namespace
    return {"apiVersion": "racetrack.io/v1alpha1", "kind": kind, "metadata": metadata, "spec": spec}


def audit_events(cluster: LocalCluster, selector: str = "") -> list[dict[str, Any]]:
    args = ["get", "auditevents", "-n", PLATFORM_NAMESPACE, "-o", "json"]
    if selector:
        args += ["-l", selector]
    items: list[dict[str, Any]] = json.loads(cluster.kubectl(*args).stdout)["items"]
    return sorted(items, key=lambda e: e["spec"]["time"])


def events_of(cluster: LocalCluster, namespace: str) -> list[dict[str, Any]]:
    """The audit events about objects of ``namespace``, oldest first."""
    return audit_events(cluster, f"racetrack.io/namespace={namespace}")


def wait_for_event(
    cluster: LocalCluster, selector: str, action: str, timeout: float = 30
) -> dict[str, Any]:
    """The (confirmed) audit event with ``action`` among ``selector``'s, once written."""

    def found() -> dict[str, Any] | None:
        for event in audit_events(cluster, selector):
            pending = (event["metadata"].get("labels") or {}).get("racetrack.io/pending")
            if event["spec"]["action"] == action and pending != "true":
                return event
        return None

    result: dict[str, Any] = eventually(found, timeout, f"a {action} event for {selector}")
    return result


def actions(events: list[dict[str, Any]]) -> list[str]:
    return [event["spec"]["action"] for event in events]


def serving_webhooks(
    cluster: LocalCluster, folder: Path, settings: dict[str, str]
) -> Iterator[DevWebhooks]:
    """The webhooks running and registered on ``cluster`` for as long as the caller keeps
    them, then unregistered and stopped (for fixtures)."""
    active = cluster.kubectl(
        "get", "maintenances", "-o", "jsonpath={.items[?(@.spec.active==true)].metadata.name}"
    ).stdout.strip()
    assert not active, f"an active Maintenance from another test would refuse ours: {active}"
    server = DevWebhooks(cluster, folder, settings)
    server.prepare()
    server.start()
    server.register()
    try:
        server.wait_registered()
        yield server
    finally:
        server.unregister()
        server.stop()
