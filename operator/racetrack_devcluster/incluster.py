"""The platform installed in a real-node dev cluster as a user installs it: the images made
here, pushed to the cluster's registry, and ``kubectl apply --server-side -k`` of an overlay
of ``manifests/dev`` written into the state folder.

The overlay points the images at the cluster's registry and gives the webhooks a serving
certificate from a CA of its own. The dev cluster's API server runs on the host, which
routes neither Service nor pod addresses (they stay in the node's network namespace), so
the webhook configurations call the webhooks on a node port of the node's address.
"""

from __future__ import annotations

import base64
import os
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from cryptography import x509
from cryptography.x509.oid import NameOID

from racetrack_devcluster import pki, platformimages
from racetrack_images.registry import Registry

PLATFORM = "racetrack-system"
WEBHOOKS_HOST = f"racetrack-webhooks.{PLATFORM}.svc"
WEBHOOKS_NODE_PORT = 30443
REPO = Path(__file__).resolve().parents[2]
DEV_OVERLAY = REPO / "manifests" / "dev"

Kubectl = Callable[..., subprocess.CompletedProcess[str]]
Progress = Callable[[str], None]


class InstallError(RuntimeError):
    """The in-cluster install did not come up; the message says which step and why."""


def _image(name: str, new_name: str, tag: str) -> dict[str, str]:
    return {"name": f"localhost:5000/racetrack/{name}", "newName": new_name, "newTag": tag}


def overlay(registry: str, operator_tag: str, haproxy_tag: str, ca_bundle: str, node_ip: str,
            base: str) -> dict[str, Any]:  # fmt: skip
    """The kustomization (pure): ``base`` (manifests/dev, relative), images from
    ``registry``, the webhooks behind a node port of ``node_ip`` trusted by ``ca_bundle``."""
    patches: list[dict[str, Any]] = [
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

    def call_on_node_port(index: int, webhook: dict[str, Any]) -> dict[str, Any]:
        path = webhook["clientConfig"]["service"]["path"]
        return {
            "op": "replace",
            "path": f"/webhooks/{index}/clientConfig",
            "value": {
                "url": f"https://{node_ip}:{WEBHOOKS_NODE_PORT}{path}",
                "caBundle": ca_bundle,
            },
        }

    patches += webhook_patches(call_on_node_port)
    return {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": [base],
        "images": [
            _image("operator", f"{registry}/racetrack/operator", operator_tag),
            _image("haproxy", f"{registry}/racetrack/haproxy", haproxy_tag),
        ],
        "patches": patches,
    }


def webhook_patches(
    operation: Callable[[int, dict[str, Any]], dict[str, Any]],
) -> list[dict[str, Any]]:
    """A kustomize patch per webhook configuration of manifests/webhooks: ``operation`` of
    each of its webhooks (by index), as a JSON patch."""
    patches = []
    configurations = yaml.safe_load_all((REPO / "manifests/webhooks/webhooks.yaml").read_text())
    for configuration in filter(None, configurations):
        operations = [operation(*item) for item in enumerate(configuration["webhooks"])]
        target = {"kind": configuration["kind"], "name": configuration["metadata"]["name"]}
        patches.append({"target": target, "patch": yaml.safe_dump(operations)})
    return patches


def serving_certificate(
    directory: Path, server_ips: tuple[str, ...] = ()
) -> tuple[pki.KeyPair, str]:
    """The webhooks' serving pair (for their Service name and ``server_ips``), made once and
    kept in ``directory``; with the CA's certificate as a caBundle."""
    directory.mkdir(parents=True, exist_ok=True)
    ca = pki.KeyPair(directory / "ca.crt", directory / "ca.key")
    serving = pki.KeyPair(directory / "serving.crt", directory / "serving.key")
    if not (ca.cert.exists() and serving.cert.exists()):
        authority = pki.CertificateAuthority.create(directory)
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, WEBHOOKS_HOST)])
        authority.issue(
            directory, "serving", subject, server_names=[WEBHOOKS_HOST], server_ips=list(server_ips)
        )
    return serving, base64.b64encode(ca.cert.read_bytes()).decode()


def node_ip(kubectl: Kubectl) -> str:
    address = '{.items[0].status.addresses[?(@.type=="InternalIP")].address}'
    return kubectl("get", "nodes", "-o", f"jsonpath={address}").stdout.strip()


def push_images(cache_dir: Path, registry: str, tags: list[str], progress: Progress) -> None:
    builder = platformimages.PlatformImageBuilder(cache_dir, progress)
    images = builder.ensure_all()
    for tag in tags:
        platformimages.push_all(
            builder.store, images, registry, Registry(f"http://{registry}"), tag
        )


def install(
    kubectl: Kubectl, folder: Path, registry: str, operator_tag: str, progress: Progress
) -> Path:
    """Write the overlay into ``folder`` and apply it; wait until every Deployment is
    Available. Applying again (a new ``operator_tag``) is an upgrade."""
    address = node_ip(kubectl)
    serving, ca_bundle = serving_certificate(folder / "pki", (address,))
    base = os.path.relpath(DEV_OVERLAY, folder)
    version = platformimages.package_version()
    kustomization = overlay(registry, operator_tag, version, ca_bundle, address, base)
    (folder / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
    apply_overlay(kubectl, folder, serving, progress)
    wait_reachable(address, WEBHOOKS_NODE_PORT)
    return folder


def apply_overlay(kubectl: Kubectl, folder: Path, serving: pki.KeyPair, progress: Progress) -> None:
    """The namespace, the webhooks' TLS Secret from ``serving``, then the overlay in
    ``folder``, server-side; wait until every Deployment of the platform is Available."""
    kubectl("apply", "--server-side", "-f", str(REPO / "manifests/install/namespace.yaml"))
    secret = kubectl(
        "create", "secret", "tls", "racetrack-webhooks-tls", "-n", PLATFORM,
        f"--cert={serving.cert}", f"--key={serving.key}", "--dry-run=client", "-o", "yaml",
    ).stdout  # fmt: skip
    kubectl("apply", "--server-side", "-f", "-", input=secret)
    progress(f"Installing the platform in the cluster (kubectl apply --server-side -k {folder})")
    applied = kubectl("apply", "--server-side", "-k", str(folder), check=False)
    if applied.returncode != 0:
        raise InstallError(f"kubectl apply -k {folder} failed: {applied.stderr.strip()}")
    waited = kubectl(
        "wait", "-n", PLATFORM, "deployment", "--all", "--for=condition=Available",
        "--timeout=300s", check=False,
    )  # fmt: skip
    if waited.returncode != 0:
        pods = kubectl("get", "pods", "-n", PLATFORM, check=False).stdout
        raise InstallError(f"the platform did not become Available: {waited.stderr}\n{pods}")


def wait_reachable(address: str, port: int, timeout: float = 120.0) -> None:
    """Wait until ``address:port`` accepts connections. An Available Deployment is not yet a
    reachable node port: kube-proxy programs the port from the EndpointSlice a moment later,
    and until then the API server's webhook calls are refused, and so is every change."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((address, port), timeout=2):
                return
        except OSError as error:
            if time.monotonic() > deadline:
                raise InstallError(
                    f"the webhooks are Available but {address}:{port} refuses connections "
                    f"after {timeout:.0f} s ({error}); check kube-proxy on the node"
                ) from error
            time.sleep(0.5)
