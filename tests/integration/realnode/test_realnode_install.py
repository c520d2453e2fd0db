"""The platform installed in the cluster it manages, from images made here: on a real node of
its own, `kubectl apply -k` of the dev overlay (pointed at this cluster's registry) runs the
operator, the gateway and the webhooks as pods; a Job deployed then answers through the
in-cluster gateway; a new operator image tag rolls out while the job is called without one
failed call; uninstalling by the documented selector leaves the Job serving.

A cluster of its own: the session's real-node cluster runs an operator on the host, which
would hold the same Lease. The install is ``racetrack_devcluster.incluster``'s, the one
``racetrack dev up --nodes real --in-cluster`` runs.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from realnode_helpers import (  # type: ignore[import-not-found]
    REPO,
    call_in_node,
    eventually,
    push_adder_image,
    real_node_options,
)

from racetrack_devcluster import addons, incluster, platformimages
from racetrack_devcluster.build import BinaryCache
from racetrack_devcluster.launcher import ClusterOptions, LocalCluster

pytestmark = pytest.mark.realnode

PLATFORM = "racetrack-system"
VERSION = platformimages.package_version()
UPGRADE_TAG = f"{VERSION}-upgrade"


@pytest.fixture(scope="module")
def own_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    cache = BinaryCache()
    node = real_node_options(cache)
    options = ClusterOptions(real_node=node, crds=addons.crds_folder(), namespaces=())
    with LocalCluster(cache.ensure(), tmp_path_factory.mktemp("install"), options) as running:
        yield running


@pytest.fixture(scope="module")
def installed(own_cluster: LocalCluster, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What ``racetrack dev up --nodes real --in-cluster`` does: the images, as the version
    and a newer tag, in the cluster's registry, and the dev overlay applied."""
    assert own_cluster.real is not None
    registry = own_cluster.real.registry_host
    incluster.push_images(BinaryCache().cache_dir, registry, [VERSION, UPGRADE_TAG], print)
    folder = tmp_path_factory.mktemp("overlay")
    return incluster.install(own_cluster.kubectl, folder, registry, VERSION, print)


def gateway_url(cluster: LocalCluster) -> str:
    service = yaml.safe_load(
        cluster.kubectl("get", "service", "racetrack-gateway", "-n", PLATFORM, "-o", "yaml").stdout
    )
    return f"http://{service['spec']['clusterIP']}/pub/job/adder/latest/api/v1/perform"


def lease_holder(cluster: LocalCluster) -> str:
    out = cluster.kubectl(
        "get", "lease", "racetrack-operator", "-n", PLATFORM,
        "-o", "jsonpath={.spec.holderIdentity}", check=False,
    )  # fmt: skip
    return out.stdout.strip()


def test_install_job_call_upgrade_uninstall(own_cluster: LocalCluster, installed: Path) -> None:
    cluster = own_cluster
    pods = yaml.safe_load(
        cluster.kubectl("get", "pods", "-n", PLATFORM, "-l",
                        "app.kubernetes.io/name=racetrack-operator", "-o", "yaml").stdout
    )["items"]  # fmt: skip
    assert len(pods) == 2
    assert lease_holder(cluster) in {pod["metadata"]["name"] for pod in pods}

    # A Job, through the in-cluster webhooks (they stamp who deployed it) and operator.
    image = push_adder_image(cluster, "1.0.0")
    job = yaml.safe_load((REPO / "examples" / "adder.yaml").read_text())
    job["spec"]["image"] = image
    applied = cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump(job), check=False)
    assert applied.returncode == 0, applied.stderr
    waited = cluster.kubectl(
        "wait", "rtjob/adder-v1-0-0", "--for=condition=Ready", "--timeout=180s", check=False
    )
    assert waited.returncode == 0, waited.stderr
    annotations = yaml.safe_load(
        cluster.kubectl("get", "rtjob", "adder-v1-0-0", "-o", "yaml").stdout
    )["metadata"].get("annotations", {})
    assert "racetrack.io/deployed-by" in annotations

    url = gateway_url(cluster)
    eventually(lambda: call_in_node(cluster, url, {"a": 40, "b": 2}) == (200, "42"))

    # Upgrade the operator to a new image tag while calling the job without a pause.
    outcomes: list[tuple[int, str]] = []
    stop = threading.Event()

    def keep_calling() -> None:
        while not stop.is_set():
            outcomes.append(call_in_node(cluster, url, {"a": 1, "b": 2}))

    caller = threading.Thread(target=keep_calling)
    caller.start()
    try:
        before = lease_holder(cluster)
        assert cluster.real is not None
        incluster.install(
            cluster.kubectl, installed, cluster.real.registry_host, UPGRADE_TAG, print
        )
        rolled = cluster.kubectl(
            "rollout", "status", "-n", PLATFORM, "deployment/racetrack-operator",
            "--timeout=300s", check=False,
        )  # fmt: skip
        assert rolled.returncode == 0, rolled.stderr
        eventually(lambda: lease_holder(cluster) not in ("", before))
    finally:
        stop.set()
        caller.join(timeout=60)
    failed = [outcome for outcome in outcomes if outcome != (200, "3")]
    assert len(outcomes) >= 5 and failed == [], failed[:5]
    images = cluster.kubectl(
        "get", "deployment", "racetrack-operator", "-n", PLATFORM,
        "-o", "jsonpath={.spec.template.spec.containers[0].image}",
    ).stdout  # fmt: skip
    assert images.endswith(f":{UPGRADE_TAG}")

    # Uninstall, keeping the CRDs: the Job and its Deployment stay, and it still answers.
    cluster.kubectl(
        "delete", "-k", str(installed), "-l", "racetrack.io/keep-on-uninstall!=true",
        "--wait=true", "--timeout=180s",
    )  # fmt: skip
    assert cluster.kubectl("get", "namespace", PLATFORM, check=False).returncode != 0
    assert cluster.kubectl("get", "rtjob", "adder-v1-0-0").returncode == 0
    service = yaml.safe_load(cluster.kubectl("get", "service", "adder-v1-0-0", "-o", "yaml").stdout)
    direct = f"http://{service['spec']['clusterIP']}:{service['spec']['ports'][0]['port']}"
    assert call_in_node(cluster, f"{direct}/api/v1/perform", {"a": 2, "b": 2}) == (200, "4")
