"""manifests/ as kustomize bases and overlays: each renders, the API server accepts every
object in a server-side dry run, and applying an overlay twice changes nothing.

cert-manager's Issuers and Certificates (in the install base only) are left out of the dry
run: the test cluster has no cert-manager, so the API server does not know their kinds.
"""

from __future__ import annotations

import importlib.metadata
from pathlib import Path
from typing import Any

import pytest
import yaml

from racetrack_devcluster.launcher import LocalCluster

pytestmark = pytest.mark.cluster

REPO = Path(__file__).resolve().parents[3]
VERSION = importlib.metadata.version("racetrack-operator")
FOLDERS = ("manifests", "manifests/install", "manifests/dev", "manifests/kind")
#: Applying these for real would send every later write of the session to webhook pods that
#: never run (tests/integration/webhooks registers the same configurations by URL).
WEBHOOK_KINDS = ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration")


def rendered(cluster: LocalCluster, folder: str) -> list[dict[str, Any]]:
    text = cluster.kubectl("kustomize", str(REPO / folder)).stdout
    return [document for document in yaml.safe_load_all(text) if document]


def without_cert_manager(documents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [d for d in documents if not d["apiVersion"].startswith("cert-manager.io/")]


def images(documents: list[dict[str, Any]]) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for document in documents:
        if document["kind"] == "Deployment":
            containers = document["spec"]["template"]["spec"]["containers"]
            found[document["metadata"]["name"]] = {c["image"] for c in containers}
    return found


@pytest.fixture(scope="module")
def platform_namespace(cluster: LocalCluster) -> LocalCluster:
    """Namespaced objects are only dry-run into a namespace that exists."""
    cluster.kubectl("apply", "--server-side", "-f", str(REPO / "manifests/install/namespace.yaml"))
    return cluster


@pytest.mark.parametrize("folder", FOLDERS)
def test_each_folder_passes_a_server_side_dry_run(
    platform_namespace: LocalCluster, folder: str
) -> None:
    documents = without_cert_manager(rendered(platform_namespace, folder))
    kinds = {d["kind"] for d in documents}
    assert {"CustomResourceDefinition", "Deployment", "ClusterRole", *WEBHOOK_KINDS} <= kinds
    result = platform_namespace.kubectl(
        "apply", "--server-side", "--dry-run=server", "--force-conflicts", "-f", "-",
        input=yaml.safe_dump_all(documents), check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("(server dry run)") == len(documents)


def test_the_install_base_is_manifests_itself_with_the_package_version(
    cluster: LocalCluster,
) -> None:
    base = rendered(cluster, "manifests/install")
    assert rendered(cluster, "manifests") == base
    assert images(base) == {
        "racetrack-operator": {f"racetrack-operator:{VERSION}"},
        "racetrack-webhooks": {f"racetrack-operator:{VERSION}"},
        "racetrack-gateway": {f"racetrack-operator:{VERSION}", "haproxy:2.6"},
    }
    assert {d["kind"] for d in base if d["apiVersion"].startswith("cert-manager.io/")} == {
        "Issuer",
        "Certificate",
    }


@pytest.mark.parametrize(
    ("folder", "registry"), [("dev", "localhost:5000"), ("kind", "localhost:5001")]
)
def test_the_overlays_run_our_images_without_cert_manager(
    cluster: LocalCluster, folder: str, registry: str
) -> None:
    documents = rendered(cluster, f"manifests/{folder}")
    operator = f"{registry}/racetrack/operator:{VERSION}"
    assert images(documents) == {
        "racetrack-operator": {operator},
        "racetrack-webhooks": {operator},
        "racetrack-gateway": {operator, f"{registry}/racetrack/haproxy:{VERSION}"},
    }
    assert not [d for d in documents if d["apiVersion"].startswith("cert-manager.io/")]
    for document in documents:
        if document["kind"] in WEBHOOK_KINDS:
            assert "cert-manager.io/inject-ca-from" not in document["metadata"].get(
                "annotations", {}
            )


def test_the_kind_overlay_exposes_the_gateway_on_the_port_kind_maps(
    cluster: LocalCluster,
) -> None:
    (service,) = [
        d
        for d in rendered(cluster, "manifests/kind")
        if d["kind"] == "Service" and d["metadata"]["name"] == "racetrack-gateway"
    ]
    config = yaml.safe_load((REPO / "manifests/kind/cluster.yaml").read_text())
    (mapping,) = config["nodes"][0]["extraPortMappings"]
    assert service["spec"]["type"] == "NodePort"
    assert service["spec"]["ports"][0]["nodePort"] == mapping["containerPort"]


def test_the_kind_overlay_runs_one_replica_of_each_deployment(cluster: LocalCluster) -> None:
    """A kind cluster is one node: second replicas would only compete for its CPU."""
    replicas = {
        d["metadata"]["name"]: d["spec"]["replicas"]
        for d in rendered(cluster, "manifests/kind")
        if d["kind"] == "Deployment"
    }
    assert replicas == dict.fromkeys(
        ("racetrack-operator", "racetrack-gateway", "racetrack-webhooks"), 1
    )
    base = {d["metadata"]["name"]: d["spec"]["replicas"]
            for d in rendered(cluster, "manifests/dev") if d["kind"] == "Deployment"}  # fmt: skip
    assert set(base.values()) == {2}


def test_a_second_server_side_apply_changes_nothing(platform_namespace: LocalCluster) -> None:
    documents = [
        d for d in rendered(platform_namespace, "manifests/dev") if d["kind"] not in WEBHOOK_KINDS
    ]
    text = yaml.safe_dump_all(documents)

    def apply_and_read_generations() -> dict[str, str]:
        platform_namespace.kubectl(
            "apply", "--server-side", "--force-conflicts", "--field-manager=racetrack-install",
            "-f", "-", input=text,
        )  # fmt: skip
        listed = platform_namespace.kubectl("get", "-f", "-", "-o", "yaml", input=text).stdout
        # Controllers keep writing Deployments' and PDBs' status; a change of ours to any
        # object with a spec bumps its generation, and of any other its resourceVersion.
        return {
            f"{o['kind']}/{o['metadata'].get('namespace', '')}/{o['metadata']['name']}": str(
                o["metadata"].get("generation") or o["metadata"]["resourceVersion"]
            )
            for o in yaml.safe_load(listed)["items"]
        }

    first = apply_and_read_generations()
    assert len(first) == len(documents)
    assert apply_and_read_generations() == first


def test_uninstalling_by_the_documented_selector_keeps_the_crds_and_so_the_jobs(
    platform_namespace: LocalCluster,
) -> None:
    # The dev overlay applied for real (but its webhook configurations); a dry run of the
    # delete lists what a real one would remove.
    documents = [
        d for d in rendered(platform_namespace, "manifests/dev") if d["kind"] not in WEBHOOK_KINDS
    ]
    platform_namespace.kubectl(
        "apply", "--server-side", "--force-conflicts", "--field-manager=racetrack-install",
        "-f", "-", input=yaml.safe_dump_all(documents),
    )  # fmt: skip
    deleted = platform_namespace.kubectl(
        "delete", "-f", "-", "-l", "racetrack.io/keep-on-uninstall!=true", "--dry-run=server",
        "-o", "name", input=yaml.safe_dump_all(documents),
    ).stdout.split()  # fmt: skip
    assert "deployment.apps/racetrack-operator" in deleted
    assert "namespace/racetrack-system" in deleted
    assert not [name for name in deleted if name.startswith("customresourcedefinition")]
    crds = [d for d in documents if d["kind"] == "CustomResourceDefinition"]
    assert len(deleted) == len(documents) - len(crds)
