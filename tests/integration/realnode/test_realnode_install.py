"""The platform installed in the cluster it manages, from images made here: on a real node of
its own, `kubectl apply -k` of the dev overlay (pointed at this cluster's registry) runs the
operator, the gateway and the webhooks as pods; a Job deployed then answers through the
in-cluster gateway; a new operator image tag rolls out while the job is called without one
failed call; uninstalling by the documented selector leaves the Job serving.

A cluster of its own: the session's real-node cluster runs an operator on the host, which
would hold the same Lease.
"""

from __future__ import annotations

import base64
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography import x509
from cryptography.x509.oid import NameOID
from realnode_helpers import (  # type: ignore[import-not-found]
    REPO,
    call_in_node,
    eventually,
    push_adder_image,
    real_node_options,
)

from racetrack_devcluster import addons, pki, platformimages
from racetrack_devcluster.build import BinaryCache
from racetrack_devcluster.launcher import ClusterOptions, LocalCluster
from racetrack_images.registry import Registry

pytestmark = pytest.mark.realnode

PLATFORM = "racetrack-system"
VERSION = platformimages.package_version()
UPGRADE_TAG = f"{VERSION}-upgrade"
WEBHOOKS_HOST = f"racetrack-webhooks.{PLATFORM}.svc"
WEBHOOKS_NODE_PORT = 30443


@pytest.fixture(scope="module")
def own_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    cache = BinaryCache()
    node = real_node_options(cache)
    options = ClusterOptions(real_node=node, crds=addons.crds_folder(), namespaces=())
    with LocalCluster(cache.ensure(), tmp_path_factory.mktemp("install"), options) as running:
        yield running


@pytest.fixture(scope="module")
def pushed(own_cluster: LocalCluster) -> str:
    """The three images in this cluster's registry, as the version and as a newer tag."""
    assert own_cluster.real is not None
    builder = platformimages.PlatformImageBuilder(BinaryCache().cache_dir, print)
    images = builder.ensure_all()
    registry = Registry(own_cluster.real.registry_url)
    for tag in (VERSION, UPGRADE_TAG):
        platformimages.push_all(
            builder.store, images, own_cluster.real.registry_host, registry, tag
        )
    return own_cluster.real.registry_host


def image(name: str, new_name: str, tag: str) -> dict[str, str]:
    return {"name": f"localhost:5000/racetrack/{name}", "newName": new_name, "newTag": tag}


def write_overlay(
    folder: Path, registry: str, operator_tag: str, ca_bundle: str, node_ip: str
) -> Path:
    """manifests/dev pointed at this cluster's registry, and the webhooks reached on a node
    port of the node's address: the dev cluster's API server runs on the host, which routes
    neither Service nor pod addresses (they stay inside the node's network namespace)."""
    folder.mkdir(parents=True, exist_ok=True)
    base = os.path.relpath(REPO / "manifests" / "dev", folder)
    configurations = yaml.safe_load_all((REPO / "manifests/webhooks/webhooks.yaml").read_text())
    patches = [
        {
            "target": {"kind": "Service", "name": "racetrack-webhooks"},
            "patch": yaml.safe_dump(
                [
                    {"op": "add", "path": "/spec/type", "value": "NodePort"},
                    {"op": "add", "path": "/spec/ports/0/nodePort", "value": WEBHOOKS_NODE_PORT},
                ]
            ),
        }
    ]
    for configuration in filter(None, configurations):
        operations = [
            {
                "op": "replace",
                "path": f"/webhooks/{index}/clientConfig",
                "value": {
                    "url": f"https://{node_ip}:{WEBHOOKS_NODE_PORT}"
                    + webhook["clientConfig"]["service"]["path"],
                    "caBundle": ca_bundle,
                },
            }
            for index, webhook in enumerate(configuration["webhooks"])
        ]
        target = {"kind": configuration["kind"], "name": configuration["metadata"]["name"]}
        patches.append({"target": target, "patch": yaml.safe_dump(operations)})
    kustomization: dict[str, Any] = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": [base],
        "images": [
            image("operator", f"{registry}/racetrack/operator", operator_tag),
            image("haproxy", f"{registry}/racetrack/haproxy", VERSION),
        ],
        "patches": patches,
    }
    (folder / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
    return folder


@pytest.fixture(scope="module")
def installed(
    own_cluster: LocalCluster, pushed: str, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    work = tmp_path_factory.mktemp("overlay")
    (work / "pki").mkdir()
    authority = pki.CertificateAuthority.create(work / "pki")
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, WEBHOOKS_HOST)])
    assert own_cluster.real is not None
    node_ip = own_cluster.real.network.node_ip
    serving = authority.issue(
        work / "pki", "serving", subject, server_names=[WEBHOOKS_HOST], server_ips=[node_ip]
    )
    ca_bundle = base64.b64encode(authority.pair.cert.read_bytes()).decode()
    own_cluster.kubectl(
        "apply", "--server-side", "-f", str(REPO / "manifests/install/namespace.yaml")
    )
    own_cluster.kubectl(
        "create", "secret", "tls", "racetrack-webhooks-tls", "-n", PLATFORM,
        f"--cert={serving.cert}", f"--key={serving.key}",
    )  # fmt: skip
    overlay = write_overlay(work / "overlay", pushed, VERSION, ca_bundle, node_ip)
    result = own_cluster.kubectl("apply", "--server-side", "-k", str(overlay), check=False)
    assert result.returncode == 0, result.stderr
    waited = own_cluster.kubectl(
        "wait", "-n", PLATFORM, "deployment", "--all", "--for=condition=Available",
        "--timeout=300s", check=False,
    )  # fmt: skip
    pods = own_cluster.kubectl("get", "pods", "-n", PLATFORM, "-o", "wide").stdout
    assert waited.returncode == 0, waited.stderr + pods
    return overlay


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


def test_install_job_call_upgrade_uninstall(
    own_cluster: LocalCluster, installed: Path, pushed: str
) -> None:
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
        upgraded = write_overlay(
            installed, pushed, UPGRADE_TAG, _ca_bundle(installed), cluster.real.network.node_ip
        )
        cluster.kubectl("apply", "--server-side", "-k", str(upgraded))
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


def _ca_bundle(overlay: Path) -> str:
    """The caBundle already in an overlay written by write_overlay."""
    kustomization = yaml.safe_load((overlay / "kustomization.yaml").read_text())
    operations = yaml.safe_load(kustomization["patches"][1]["patch"])
    return str(operations[0]["value"]["caBundle"])
