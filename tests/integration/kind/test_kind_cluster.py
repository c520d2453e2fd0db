"""kind on our own Docker engine, end to end, as ``make kind-up`` runs it: the node image made
here, the platform installed inside the cluster with ``manifests/kind`` from images made here
(``kind load``), the adder Job admitted by the in-cluster webhooks, made Ready by the
in-cluster operator and called from the host through the gateway's mapped node port; then
``down`` leaving nothing behind and the host's network as it was.

One cluster for the module (creating it and installing the platform take a few minutes on a
busy machine, hence the module's longer timeout); skipped, with the reason, where no Docker
engine can run. The node image and the platform images come from the cache.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from racetrack_devcluster.build import BinaryCache
from racetrack_devcluster.kind import archive, cluster, engine, images, nodeimage, platform
from racetrack_devcluster.kind import example as kind_example
from racetrack_devcluster.launcher import run_kubectl
from racetrack_devcluster.processes import PortAllocator, port_is_free

pytestmark = [pytest.mark.kind, pytest.mark.timeout(1500)]


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
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[cluster.KindCluster, int]]:
    """The cluster with the platform, its gateway on a free host port (8080 may be a user's
    ``make kind-up``)."""
    support = engine.check()
    if not support.ok:
        pytest.skip(cluster.not_possible_message(support.reason))
    state_dir = tmp_path_factory.mktemp("kind-state")
    running = cluster.KindCluster(state_dir, BinaryCache(), print)
    before = _host_network()
    gateway_port = PortAllocator().claim("kind gateway")
    try:
        state = running.up(gateway_port=gateway_port)
        assert _host_network()["docker_chains"] == before["docker_chains"]
        assert not port_is_free(gateway_port)  # Docker's proxy holds it for the node port
        yield running, state.gateway_port
    finally:
        left = running.down(purge=True)
        assert left == []
        assert _host_network() == before
        assert port_is_free(gateway_port)


@pytest.fixture(scope="module")
def kind(up: tuple[cluster.KindCluster, int]) -> cluster.KindCluster:
    return up[0]


def kubectl(kind: cluster.KindCluster, *args: str) -> str:
    return run_kubectl(kind.kubectl, kind.kubeconfig, *args).stdout


@pytest.fixture(scope="module")
def adder(up: tuple[cluster.KindCluster, int]) -> str:
    """What ``make kind-up`` ends with: the adder deployed and called through the gateway."""
    kind, gateway_port = up
    return kind_example.run(kind, gateway_port)


def test_the_adder_job_answers_through_the_gateway_on_the_host(
    kind: cluster.KindCluster, adder: str
) -> None:
    assert adder == "42"
    # Admitted by the webhooks running in the cluster: they stamp who deployed it.
    job = yaml.safe_load(kubectl(kind, "get", "rtjob", "adder-v1-0-0", "-o", "yaml"))
    assert "racetrack.io/deployed-by" in job["metadata"]["annotations"]


def test_the_platform_runs_in_the_cluster_from_the_images_made_here(
    kind: cluster.KindCluster,
) -> None:
    deployments = yaml.safe_load(
        kubectl(kind, "get", "deployments", "-n", "racetrack-system", "-o", "yaml")
    )["items"]
    running = {
        d["metadata"]["name"]: (
            sorted(c["image"] for c in d["spec"]["template"]["spec"]["containers"]),
            d["status"].get("availableReplicas"),
        )
        for d in deployments
    }
    made = platform.image_names(platform.platform_images(kind.cache.cache_dir, print))
    operator, haproxy = sorted(made, key=lambda name: "haproxy" in name)
    assert running == {
        "racetrack-operator": ([operator], 1),
        "racetrack-gateway": (sorted([operator, haproxy]), 1),
        "racetrack-webhooks": ([operator], 1),
    }


def test_bad_input_is_refused_by_the_in_cluster_webhooks_with_what_to_fix(
    kind: cluster.KindCluster, adder: str
) -> None:
    job = yaml.safe_load((platform.REPO / "examples" / "adder.yaml").read_text())
    job["metadata"]["name"] = "adder-second-copy"
    refused = run_kubectl(
        kind.kubectl, kind.kubeconfig, "apply", "-f", "-", input=yaml.safe_dump(job), check=False
    )
    assert refused.returncode != 0
    assert 'admission webhook "jobs.webhooks.racetrack.io" denied' in refused.stderr
    assert "a version is deployed once" in refused.stderr


def test_the_adder_answers_from_a_pod_through_its_service_by_dns_name(
    kind: cluster.KindCluster, adder: str
) -> None:
    url = kubectl(kind, "get", "rtjob/adder-v1-0-0", "-o", "jsonpath={.status.url}").strip()
    image = kubectl(kind, "get", "rtjob/adder-v1-0-0", "-o", "jsonpath={.spec.image}").strip()
    answer = kind_example.call_from_pod(kind, image, f"{url}/api/v1/perform", {"a": 1, "b": 2})
    assert answer == "3"


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
