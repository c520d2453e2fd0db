"""Fixtures for the identity tests: a fresh namespace for the subjects and another as the
platform namespace (so each test has its own auth key and Users' Secrets), and the operator
watching both as a real process."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from identity_helpers import OperatorProcess, apply  # type: ignore[import-not-found]

from racetrack_devcluster.launcher import LocalCluster

PUB_URL = "http://racetrack-gateway.racetrack-system.svc:7005/pub"


def _namespace(cluster: LocalCluster, prefix: str) -> Iterator[str]:
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    cluster.kubectl("create", "namespace", name)
    yield name
    cluster.kubectl("delete", "namespace", name, "--wait=false", check=False)


@pytest.fixture
def namespace(cluster: LocalCluster) -> Iterator[str]:
    yield from _namespace(cluster, "rt")


@pytest.fixture
def platform(cluster: LocalCluster) -> Iterator[str]:
    yield from _namespace(cluster, "rt-platform")


@pytest.fixture
def new_user(cluster: LocalCluster, platform: str) -> Iterator[Callable[..., str]]:
    """Makes a User named for this test (Users are cluster-wide); deletes them afterwards."""
    made: list[str] = []

    def make(prefix: str, active: bool = False) -> str:
        name = f"{prefix}-{platform[-8:]}"
        user = {
            "apiVersion": "racetrack.io/v1alpha1",
            "kind": "User",
            "metadata": {"name": name},
            "spec": {"email": f"{prefix}@example.org", "active": active},
        }
        apply(cluster, user)
        made.append(name)
        return name

    yield make
    for name in made:
        cluster.kubectl("delete", "rtuser", name, "--wait=false", check=False)


@pytest.fixture
def operator(
    cluster: LocalCluster, tmp_path: Path, namespace: str, platform: str
) -> Iterator[OperatorProcess]:
    proc = OperatorProcess(
        cluster.kubeconfig,
        tmp_path,
        {
            "RACETRACK_NAMESPACES": namespace,
            "RACETRACK_PLATFORM_NAMESPACE": platform,
            "RACETRACK_PUB_URL": PUB_URL,
            "RACETRACK_METRICS_PORT": "0",
            "RACETRACK_LIVENESS_ENDPOINT": "",
        },
    )
    proc.start()
    yield proc
    proc.stop()
    assert proc.process is not None
    assert proc.process.returncode in (0, -15), proc.logs()[-5000:]
