"""A namespace with the operator and the gateway agent watching it, and the adder job
runtime as a host process that the namespace's Jobs point at (the upstream override)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest
from gateway_helpers import ADDER, Gateway, Process, unique  # type: ignore[import-not-found]

from gateway_harness import Echo, JobProcess  # type: ignore[import-not-found]
from racetrack_devcluster.launcher import LocalCluster


@dataclasses.dataclass
class Stack:
    cluster: LocalCluster
    namespace: str
    callers_namespace: str
    """Also watched by the gateway, not by the operator: callers from another namespace."""
    operator: Process
    gateway: Gateway
    adder: JobProcess
    echo: Echo
    log_dir: Path


def operator_for(cluster: LocalCluster, namespace: str, log_dir: Path) -> Process:
    return Process(
        "operator",
        "racetrack_operator",
        {
            "KUBECONFIG": str(cluster.kubeconfig),
            "RACETRACK_NAMESPACES": namespace,
            "RACETRACK_METRICS_PORT": "0",
            "RACETRACK_LIVENESS_ENDPOINT": "",
            "RACETRACK_STALLED_RETRY_SECONDS": "2",
            "RACETRACK_FAMILY_SYNC_SECONDS": "0.2",
        },
        log_dir,
    )


def build(cluster: LocalCluster, log_dir: Path) -> Iterator[Stack]:
    namespace = unique("gw")
    callers = f"{namespace}-callers"
    for name in (namespace, callers):
        cluster.kubectl("create", "namespace", name)
    operator = operator_for(cluster, namespace, log_dir)
    operator.start()
    adder = JobProcess(ADDER, log_dir, name="adder")
    echo = Echo()
    gateway = Gateway(cluster.kubeconfig, f"{namespace},{callers}", log_dir)
    try:
        gateway.start()
        yield Stack(cluster, namespace, callers, operator, gateway, adder, echo, log_dir)
    finally:
        gateway.stop()
        echo.close()
        adder.stop()
        operator.stop()
        for name in (namespace, callers):
            cluster.kubectl("delete", "namespace", name, "--wait=false", check=False)


@pytest.fixture(scope="module")
def stack(cluster: LocalCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Shared by a module: tests use families and users of their own."""
    yield from build(cluster, tmp_path_factory.mktemp("gateway"))


@pytest.fixture
def own_stack(cluster: LocalCluster, tmp_path: Path) -> Iterator[Stack]:
    """For tests that kill or cut off parts of it."""
    yield from build(cluster, tmp_path)
