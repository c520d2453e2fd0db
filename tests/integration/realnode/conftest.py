"""A cluster with a real node (containerd, kubelet, kube-proxy) and a local registry.

One per test session, started only when a ``realnode`` test runs. On a machine that cannot
run containers the tests are skipped with the one-line reason the launcher would print.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from realnode_helpers import real_node_options  # type: ignore[import-not-found]

from racetrack_devcluster import addons, gateway
from racetrack_devcluster.build import BinaryCache
from racetrack_devcluster.launcher import ClusterOptions, LocalCluster


@pytest.fixture(scope="session")
def real_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    cache = BinaryCache()
    options = real_node_options(cache)
    binaries = cache.ensure()
    work_dir = tmp_path_factory.mktemp("real-cluster")
    options = ClusterOptions(
        real_node=options, crds=addons.crds_folder(), namespaces=addons.NAMESPACES
    )
    with LocalCluster(binaries, work_dir, options) as running:
        yield running


@pytest.fixture(scope="session")
def gateway_url(real_cluster: LocalCluster) -> str:
    """The gateway as ``racetrack dev up`` runs it on a real node: HAProxy in the node's
    network namespace, listening on the node's address (reachable from here and from pods)."""
    return gateway.start(real_cluster)


@pytest.fixture(scope="session")
def operator_cluster(real_cluster: LocalCluster, gateway_url: str) -> LocalCluster:
    """The real-node cluster with the operator, as ``racetrack dev up`` runs it (one for the
    session: two operators must never reconcile the same objects), giving jobs the gateway's
    address as PUB_URL; builds retry once (not three times), so a failure that
    may pass is seen failing for good in seconds."""
    addons.start_operator(
        real_cluster,
        {"RACETRACK_BUILD_RETRIES": "1", "RACETRACK_PUB_URL": gateway.pub_url(gateway_url)},
    )
    return real_cluster


@pytest.fixture(autouse=True)
def _real_cluster_needs_marker(request: pytest.FixtureRequest) -> None:
    if (
        "real_cluster" in request.fixturenames
        and request.node.get_closest_marker("realnode") is None
    ):
        pytest.fail("tests that use `real_cluster` must be marked @pytest.mark.realnode")
