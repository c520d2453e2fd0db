"""A control plane of the test's own, healing, with the operator, the gateway and the
admission webhooks as its components.

Not the session's shared cluster: these tests kill its etcd and API server. Each test gets a
fresh one (a few seconds to start), so no kill can leave a later test a cluster in an odd state.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from chaos_helpers import ChaosCluster  # type: ignore[import-not-found]

from racetrack_devcluster import addons, chaos
from racetrack_devcluster.build import BinaryCache
from racetrack_devcluster.launcher import ClusterOptions, LocalCluster

log = logging.getLogger("chaos")


@pytest.fixture
def chaos_cluster(tmp_path: Path) -> Iterator[ChaosCluster]:
    # As racetrack dev up makes it: with the platform namespace from the start, so the
    # operator has its auth key before the first Job (or every Job would roll again when the
    # webhooks create that namespace and the family tokens follow).
    options = ClusterOptions(crds=addons.crds_folder(), namespaces=addons.NAMESPACES, heal=True)
    cluster = LocalCluster(BinaryCache().ensure(), tmp_path / "cluster", options, log.info)
    with cluster:
        metrics_url = addons.start_operator(cluster)
        chaos.start_gateway_and_webhooks(cluster)
        cluster.kubectl("create", "namespace", "chaos")
        yield ChaosCluster(cluster, metrics_url)
