"""Fixtures for the admin commands on the real control plane: the operator as a process
(purge timer every second), the admission webhooks registered (maintenance, audit), and a
fresh namespace per test; the commands run as a user runs them, as a subprocess."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from portfolio_helpers import OperatorProcess  # type: ignore[import-not-found]

from integration.webhooks.webhook_helpers import serving_webhooks  # type: ignore[import-not-found]
from racetrack_devcluster.launcher import LocalCluster
from racetrack_devcluster.webhooks import DevWebhooks


# Module scope: these folders are not packages, so a "package" fixture would live until the
# end of the session, and its auditor would keep the audit Lease from the webhooks' own tests.
@pytest.fixture(scope="module")
def webhooks(
    cluster: LocalCluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DevWebhooks]:
    yield from serving_webhooks(cluster, tmp_path_factory.mktemp("webhooks"), {})


def _namespace(cluster: LocalCluster, prefix: str) -> Iterator[str]:
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    cluster.kubectl("create", "namespace", name)
    yield name
    cluster.kubectl("delete", "namespace", name, "--wait=false", check=False)


@pytest.fixture
def namespace(webhooks: DevWebhooks) -> Iterator[str]:
    yield from _namespace(webhooks.cluster, "pf")


@pytest.fixture
def platform(cluster: LocalCluster) -> Iterator[str]:
    yield from _namespace(cluster, "pf-platform")


@pytest.fixture
def purge_interval() -> str:
    """Seconds between the purge timer's regular passes; a test may override it."""
    return "1"


@pytest.fixture
def operator(
    cluster: LocalCluster, tmp_path: Path, namespace: str, platform: str, purge_interval: str
) -> Iterator[OperatorProcess]:
    proc = OperatorProcess(
        cluster.kubeconfig,
        tmp_path,
        {
            "RACETRACK_NAMESPACES": namespace,
            "RACETRACK_PLATFORM_NAMESPACE": platform,
            "RACETRACK_METRICS_PORT": "0",
            "RACETRACK_LIVENESS_ENDPOINT": "",
            "RACETRACK_PURGE_INTERVAL_SECONDS": purge_interval,
        },
    )
    proc.start()
    yield proc
    proc.stop()
    assert proc.process is not None
    assert proc.process.returncode in (0, -15), proc.logs()[-5000:]
