"""Shared pytest configuration: the ``cluster`` marker and its session-wide cluster."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from racetrack_devcluster import addons
from racetrack_devcluster.build import BinaryCache
from racetrack_devcluster.launcher import ClusterOptions, LocalCluster


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    """One real control plane (etcd, API server, controller manager, scheduler, kwok) per run,
    serving the racetrack.io CRDs, with the platform namespace the operator keeps its auth
    key in.

    Only tests marked ``@pytest.mark.cluster`` may use it, so ``pytest -m "not cluster"``
    is a complete, fast run of everything else.
    """
    binaries = BinaryCache().ensure()
    # With our CRDs from the start, as `racetrack dev up` has them (see ClusterOptions.crds).
    options = ClusterOptions(crds=addons.crds_folder(), namespaces=addons.NAMESPACES)
    with LocalCluster(binaries, tmp_path_factory.mktemp("cluster"), options) as running:
        yield running


@pytest.fixture(autouse=True)
def _cluster_needs_marker(request: pytest.FixtureRequest) -> None:
    if "cluster" in request.fixturenames and request.node.get_closest_marker("cluster") is None:
        pytest.fail("tests that use the `cluster` fixture must be marked @pytest.mark.cluster")
