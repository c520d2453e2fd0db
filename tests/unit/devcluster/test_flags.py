"""The components' command lines carry the settings that were learnt the hard way."""

from __future__ import annotations

from pathlib import Path

from racetrack_devcluster import flags, pki
from racetrack_devcluster.build import BinaryCache


def test_kwok_manages_only_annotated_nodes_with_a_long_lease_and_a_wide_pod_range() -> None:
    argv = flags.kwok(BinaryCache(Path("/cache")).binaries(), Path("/k/config"), 21000)
    assert argv[0] == "/cache/bin/kwok-v0.8.0/kwok"
    assert "--manage-all-nodes=false" in argv
    assert f"--manage-nodes-with-annotation-selector={flags.FAKE_NODE_ANNOTATION}=fake" in argv
    assert "--node-lease-duration-seconds=40" in argv
    assert "--cidr=10.244.0.0/16" in argv
    node = flags.fake_node_manifest("kwok-node-0")
    assert node["metadata"]["annotations"][flags.FAKE_NODE_ANNOTATION] == "fake"
    assert int(node["status"]["allocatable"]["pods"]) >= 2500


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
