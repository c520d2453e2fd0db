"""A namespace with the operator and the gateway agent watching it (with a platform namespace
of their own), and the adder job runtime as a host process that the namespace's Jobs point at
(the upstream override)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from gateway_helpers import (  # type: ignore[import-not-found]
    ADDER,
    Gateway,
    Stack,
    operator_for,
    unique,
)

from gateway_harness import Echo, JobProcess  # type: ignore[import-not-found]
from racetrack_devcluster.launcher import LocalCluster


def build(cluster: LocalCluster, log_dir: Path) -> Iterator[Stack]:
    namespace = unique("gw")
    callers, platform = f"{namespace}-callers", f"{namespace}-platform"
    with contextlib.ExitStack() as cleanup:
        for name in (namespace, callers, platform):
            cluster.kubectl("create", "namespace", name)
            cleanup.callback(
                cluster.kubectl, "delete", "namespace", name, "--wait=false", check=False
            )
        operator = operator_for(cluster, namespace, platform, log_dir)
        operator.start()
        cleanup.callback(operator.stop)
        adder = JobProcess(ADDER, log_dir, name="adder")
        cleanup.callback(adder.stop)
        echo = Echo()
        cleanup.callback(echo.close)
        stack = Stack(
            cluster,
            namespace,
            callers,
            platform,
            operator,
            Gateway(cluster.kubeconfig, f"{namespace},{callers}", platform, log_dir),
            adder,
            echo,
            log_dir,
        )
        # Stopped as it is at the end: a test may have put another gateway in its place.
        cleanup.callback(lambda: stack.gateway.stop())
        stack.gateway.start()
        yield stack


@pytest.fixture(scope="module")
def stack(cluster: LocalCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Shared by a module: tests use families and users of their own."""
    yield from build(cluster, tmp_path_factory.mktemp("gateway"))


@pytest.fixture
def own_stack(cluster: LocalCluster, tmp_path: Path) -> Iterator[Stack]:
    """For tests that kill or cut off parts of it."""
    yield from build(cluster, tmp_path)
