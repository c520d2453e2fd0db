"""The components' command lines carry the settings that were learnt the hard way."""

from __future__ import annotations

from pathlib import Path

import pytest

from racetrack_devcluster import flags, pki
from racetrack_devcluster.build import BinaryCache
from racetrack_operator.settings import Settings


def test_kwok_manages_only_annotated_nodes_with_a_long_lease_and_a_wide_pod_range() -> None:
    argv = flags.kwok(BinaryCache(Path("/cache")).binaries(), Path("/k/config"), 21000)
    assert argv[0] == "/cache/bin/kwok-v0.8.0/kwok"
    assert "--manage-all-nodes=false" in argv
    assert f"--manage-nodes-with-annotation-selector={flags.FAKE_NODE_ANNOTATION}=fake" in argv
    assert "--node-lease-duration-seconds=40" in argv
    assert "--cidr=10.244.0.0/16" in argv
    node = flags.fake_node_manifest("kwok-node-0")
    assert node["metadata"]["annotations"][flags.FAKE_NODE_ANNOTATION] == "fake"


def _mebibytes(quantity: str) -> float:
    units = {"Mi": 1, "Gi": 1024, "Ti": 1024 * 1024}
    return float(quantity[:-2]) * units[quantity[-2:]]


def _millicpu(quantity: str) -> float:
    return float(quantity[:-1]) if quantity.endswith("m") else float(quantity) * 1000


def _job_pods_that_fit(capacity: flags.SimulatedCapacity) -> int:
    """How many job pods at the operator's default requests the scheduler can place."""
    settings = Settings()
    allocatable = flags.fake_node_manifest("n", capacity)["status"]["allocatable"]
    per_node = min(
        int(allocatable["pods"]),
        int(_mebibytes(allocatable["memory"]) // _mebibytes(settings.default_memory_min)),
        int(_millicpu(allocatable["cpu"]) // _millicpu(settings.default_cpu_min)),
    )
    return per_node * len(capacity.node_names())


def test_the_default_simulated_node_holds_ten_thousand_job_pods_at_default_resources() -> None:
    assert _job_pods_that_fit(flags.SimulatedCapacity()) >= 10_000


def test_simulated_capacity_scales_with_nodes_and_pods_per_node() -> None:
    capacity = flags.SimulatedCapacity(nodes=3, job_pods_per_node=20_000)
    assert capacity.node_names() == ["kwok-node-0", "kwok-node-1", "kwok-node-2"]
    assert _job_pods_that_fit(capacity) == 60_000
    assert _job_pods_that_fit(flags.SimulatedCapacity(job_pods_per_node=500)) == 500


def test_a_simulated_cluster_without_nodes_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one node"):
        flags.SimulatedCapacity(nodes=0)


def test_apiserver_listens_on_loopback_without_the_endpoint_reconciler(tmp_path: Path) -> None:
    certs = pki.generate_cluster_pki(tmp_path / "pki")
    binaries = BinaryCache(Path("/cache")).binaries()
    argv = flags.apiserver(binaries, tmp_path, certs, 22000, 23000)
    assert "--secure-port=22000" in argv
    assert "--etcd-servers=http://127.0.0.1:23000" in argv
    assert "--endpoint-reconciler-type=none" in argv
    assert f"--client-ca-file={certs.ca.cert}" in argv


def test_controllers_and_scheduler_are_single_instances_without_client_throttling(
    tmp_path: Path,
) -> None:
    certs = pki.generate_cluster_pki(tmp_path / "pki")
    binaries = BinaryCache(Path("/cache")).binaries()
    for argv in (
        flags.controller_manager(binaries, tmp_path / "cm", 24000, tmp_path / "c", certs),
        flags.scheduler(binaries, tmp_path / "s", 25000, tmp_path / "s"),
    ):
        assert "--leader-elect=false" in argv
        assert "--kube-api-qps=1000" in argv
        assert "--bind-address=127.0.0.1" in argv
