"""The platform installed inside the kind cluster, as a user installs it on kind: the
operator, the gateway and the webhooks as pods, from images made here, with the
``manifests/kind`` overlay.

- **Images**: the operator and HAProxy images from the cache's OCI store, written into one
  archive and put into the node with ``kind load image-archive``. No registry is involved:
  kind's local-registry guide needs a registry *container*, whose image no one here can
  pull, and the node's containerd holds a loaded image as if pulled. Each is tagged with
  its content key (``0.1.0-<key>``), so a changed image is a new tag and rolls out, and the
  Deployments' ``IfNotPresent`` never reaches for a registry.
- **The webhooks' certificate**: the base has cert-manager issue it; kind clusters here have
  no cert-manager (its images cannot be pulled), so, as ``manifests/kind`` expects, a CA of
  our own signs the serving certificate, the Secret ``racetrack-webhooks-tls`` holds it and
  an overlay written into the state folder sets every webhook's ``caBundle``.
- **Ready is checked as a user sees it**: every Deployment Available, then a server-side dry
  run of a Job passing through both webhooks (an Available Deployment is not yet an
  EndpointSlice kube-proxy has programmed).
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from racetrack_devcluster import incluster, platformimages
from racetrack_devcluster.kind import archive, config
from racetrack_devcluster.launcher import run_kubectl
from racetrack_images import oci

REPO = Path(__file__).resolve().parents[3]
KIND_OVERLAY = REPO / "manifests" / "kind"
#: The registry ``manifests/kind`` names its images after (kind's local-registry guide's).
KIND_REGISTRY = "localhost:5001"
#: The gateway's node port in ``manifests/kind``, which the cluster maps to the host.
GATEWAY_NODE_PORT = config.GATEWAY_NODE_PORT
DEFAULT_GATEWAY_PORT = 8080
ADMISSION_TIMEOUT = 120.0

Progress = Callable[[str], None]
Kubectl = Callable[..., subprocess.CompletedProcess[str]]


class PlatformError(RuntimeError):
    """The platform did not come up on kind; the message says which step and why."""


def image_names(images: list[platformimages.PlatformImage]) -> dict[str, str]:
    """Full name in the node (``localhost:5001/racetrack/operator:0.1.0-<key>``) -> the
    store's ref name (pure). The tag is the ref name after the image's name."""
    return {
        f"{KIND_REGISTRY}/{image.repository}:{image.ref_name.removeprefix(image.name + '-')}": (
            image.ref_name
        )
        for image in images
    }


def overlay(base: str, names: list[str], ca_bundle: str) -> dict[str, Any]:
    """The kustomization (pure): ``base`` (manifests/kind, relative), each image of ``names``
    at its tag, every webhook trusting ``ca_bundle``; the webhooks stay behind their Service,
    which the kind node's API server reaches through kube-proxy."""
    images = []
    for name in names:
        repository, tag = name.rsplit(":", 1)
        images.append({"name": repository, "newTag": tag})

    def trust(index: int, _webhook: dict[str, Any]) -> dict[str, Any]:
        return {"op": "add", "path": f"/webhooks/{index}/clientConfig/caBundle", "value": ca_bundle}

    return {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": [base],
        "images": images,
        "patches": incluster.webhook_patches(trust),
    }


def platform_images(cache_dir: Path, progress: Progress) -> list[platformimages.PlatformImage]:
    """The operator and HAProxy images (made once per input, cached in the OCI store)."""
    builder = platformimages.PlatformImageBuilder(cache_dir, progress)
    return [builder.ensure_operator(), builder.ensure_haproxy()]


def load_images(
    store: oci.BlobStore,
    names: dict[str, str],
    missing: Callable[[str], bool],
    load: Callable[[Path], None],
    folder: Path,
) -> list[str]:
    """Load into the node the images of ``names`` it lacks; returns the names loaded."""
    wanted = {name: ref for name, ref in names.items() if missing(name)}
    if wanted:
        bundle = archive.write(store, wanted, folder / "platform-images.tar")
        try:
            load(bundle)
        finally:
            bundle.unlink(missing_ok=True)
    return sorted(wanted)


def install(kubectl: Kubectl, folder: Path, names: list[str], progress: Progress) -> Path:
    """Write the overlay into ``folder``, apply it, wait for Available and for admission."""
    folder.mkdir(parents=True, exist_ok=True)
    serving, ca_bundle = incluster.serving_certificate(folder / "pki")
    base = os.path.relpath(KIND_OVERLAY, folder)
    (folder / "kustomization.yaml").write_text(yaml.safe_dump(overlay(base, names, ca_bundle)))
    incluster.apply_overlay(kubectl, folder, serving, progress)
    wait_admission(kubectl)
    return folder


def _probe_job() -> str:
    """The example Job under a family of its own (never stored: a version deployed once
    would be refused as a duplicate)."""
    job = yaml.safe_load((REPO / "examples" / "adder.yaml").read_text())
    job["metadata"]["name"] = "admission-probe-v0-0-0"
    job["spec"].update(name="admission-probe", version="0.0.0")
    return yaml.safe_dump(job)


def wait_admission(
    kubectl: Kubectl,
    timeout: float = ADMISSION_TIMEOUT,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Wait until a Job passes both webhooks (a server-side dry run, nothing is stored). Only
    the API server failing to *reach* them is waited out; a refusal is an error at once."""
    deadline = time.monotonic() + timeout
    while True:
        tried = kubectl("apply", "--dry-run=server", "-f", "-", input=_probe_job(), check=False)
        if tried.returncode == 0:
            return
        error = tried.stderr.strip()
        if "failed calling webhook" not in error:
            raise PlatformError(f"a Job is refused by the installed platform: {error}")
        if time.monotonic() > deadline:
            raise PlatformError(
                f"the webhooks are Available but the API server cannot call them after "
                f"{timeout:.0f} s: {error}"
            )
        sleep(1.0)


def kubectl_for(kubectl: Path, kubeconfig: Path) -> Kubectl:
    def run(*args: str, **options: Any) -> subprocess.CompletedProcess[str]:
        return run_kubectl(kubectl, kubeconfig, *args, **options)

    return run
