"""kind on our own Docker engine, end to end: the node image made here, the operator against
the cluster, the adder Job loaded with ``kind load`` and called from a pod, then ``down``
leaving nothing behind and the host's network as it was.

One cluster for the module (creating one takes a minute or two); skipped, with the reason,
where no Docker engine can run. The node image is cached across runs.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from racetrack_devcluster.build import BinaryCache
from racetrack_devcluster.kind import archive, cluster, engine, images, nodeimage
from racetrack_devcluster.kind import example as kind_example
from racetrack_devcluster.launcher import run_kubectl

pytestmark = pytest.mark.kind


def _host_network() -> dict[str, object]:
    """What our dockerd must not change: the FORWARD policy, Docker chains, links, forwarding."""
    rules = subprocess.run(["iptables-save"], capture_output=True, text=True, check=True).stdout
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True).stdout
    return {
        "forward_policy": re.findall(r"^:FORWARD (\w+)", rules, re.MULTILINE),
        "docker_chains": sorted(set(re.findall(r"^:(DOCKER[\w-]*)", rules, re.MULTILINE))),
        "ip_forward": Path("/proc/sys/net/ipv4/ip_forward").read_text().strip(),
        "bridges": sorted(re.findall(r"^\d+: (br-\w+|docker0)[:@]", links, re.MULTILINE)),
    }


@pytest.fixture(scope="module")
def kind(tmp_path_factory: pytest.TempPathFactory) -> Iterator[cluster.KindCluster]:
    support = engine.check()
    if not support.ok:
        pytest.skip(cluster.not_possible_message(support.reason))
    state_dir = tmp_path_factory.mktemp("kind-state")
    running = cluster.KindCluster(state_dir, BinaryCache(), print)
    before = _host_network()
    try:
        running.up()
        assert _host_network()["docker_chains"] == before["docker_chains"]
        yield running
    finally:
        left = running.down(purge=True)
        assert left == []
        assert _host_network() == before


def test_the_adder_job_answers_through_its_service(kind: cluster.KindCluster) -> None:
    assert kind_example.run(kind) == "42"


def test_the_node_runs_our_kubernetes_from_our_image(kind: cluster.KindCluster) -> None:
    node = run_kubectl(
        kind.kubectl,
        kind.kubeconfig,
        "get",
        "nodes",
        "-o",
        "jsonpath={.items[0].status.nodeInfo.kubeletVersion} {.items[0].status.nodeInfo"
        ".containerRuntimeVersion} {.items[0].status.conditions[?(@.type=='Ready')].status}",
    ).stdout.split()
    assert node[0] == "v1.37.2" and node[1].startswith("containerd://1.6") and node[2] == "True"
    pods = run_kubectl(
        kind.kubectl,
        kind.kubeconfig,
        "get",
        "pods",
        "-n",
        "kube-system",
        "-o",
        "jsonpath={range .items[*]}{.spec.containers[0].image}={.status.phase}{'\\n'}{end}",
    ).stdout.split()
    images = dict(line.split("=") for line in pods)
    for expected in ("registry.k8s.io/coredns/coredns:v1.14.6", "registry.k8s.io/etcd:3.7.0-0"):
        assert images.get(expected) == "Running"


def test_an_image_under_the_node_images_name_that_is_not_it_is_replaced(
    kind: cluster.KindCluster,
) -> None:
    node = nodeimage.NodeImageBuilder(kind.cache, print).ensure()
    found = kind.store.manifest(node.ref_name)
    assert found is not None
    expected_id = found[1]["config"]["digest"]
    # A small image of ours loaded under the node image's name: what a foreign or
    # half-replaced image would look like to a name-only check.
    impostor = archive.write(
        kind.store, {node.name: images.static_ref_name()}, kind.state_dir / "impostor.tar"
    )
    kind.engine.docker("load", "--input", str(impostor))
    impostor.unlink()
    assert (
        kind.engine.docker("image", "inspect", "--format={{.Id}}", node.name).strip() != expected_id
    )
    kind.ensure_loaded(node)
    assert (
        kind.engine.docker("image", "inspect", "--format={{.Id}}", node.name).strip() == expected_id
    )
