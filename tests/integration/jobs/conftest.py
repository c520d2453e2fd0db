"""Fixtures for the racetrack.io API and operator tests on the real local control plane.

The ``cluster`` fixture (tests/conftest.py) gives one control plane per session; here we add
the CRDs once, a fresh namespace per test (so tests never see each other's objects) and, for
operator tests, the operator as a real subprocess.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from rtjob_helpers import OperatorProcess  # type: ignore[import-not-found]

from racetrack_devcluster.launcher import LocalCluster


@pytest.fixture(scope="session")
def crds(cluster: LocalCluster) -> LocalCluster:
    """The cluster, named for what these tests need of it: our CRDs, applied at its start."""
    return cluster


@pytest.fixture
def namespace(crds: LocalCluster) -> Iterator[str]:
    name = f"rt-{uuid.uuid4().hex[:8]}"
    crds.kubectl("create", "namespace", name)
    yield name
    crds.kubectl("delete", "namespace", name, "--wait=false", check=False)


@pytest.fixture
def operator_process(
    crds: LocalCluster, tmp_path: Path, namespace: str
) -> Iterator[OperatorProcess]:
    """A running operator, watching only this test's namespace so parallel tests never mix."""
    proc = OperatorProcess(
        crds.kubeconfig,
        tmp_path,
        {
            "RACETRACK_NAMESPACES": namespace,
            "RACETRACK_METRICS_PORT": "0",
            # No fixed port: tests run next to other operators (racetrack dev up, CI jobs).
            "RACETRACK_LIVENESS_ENDPOINT": "",
            "RACETRACK_STALLED_RETRY_SECONDS": "2",
        },
    )
    proc.start()
    yield proc
    proc.stop()
    assert proc.process is not None
    # An operator that crashed during the test is a failure even if the objects looked right.
    assert proc.process.returncode in (0, -15), proc.logs()[-5000:]
