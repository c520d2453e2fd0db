"""``racetrack dev kind up --example``: the adder Job on kind, end to end.

The adder's image is made here (the python3 base image plus ``examples/jobs/adder``), loaded
into the cluster with ``kind load image-archive``, and ``examples/adder.yaml`` is applied
with it; once the Job is Ready, ``perform`` is called from a short-lived pod through the
Job's Service by its cluster DNS name (``status.url``): CoreDNS, the Service and kube-proxy,
as a peer job would call it. There is no gateway yet.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

import yaml

from racetrack_devcluster import addons
from racetrack_devcluster.kind import archive
from racetrack_devcluster.kind.cluster import CLUSTER_NAME, KindCluster, KindError
from racetrack_devcluster.launcher import run_kubectl
from racetrack_devcluster.realnode import baseimage

EXAMPLE_JOB = Path("examples/adder.yaml")
EXAMPLE_CODE = Path("examples/jobs/adder")
EXAMPLE_IMAGE_REPOSITORY = "racetrack.local/job-entrypoint"
READY_TIMEOUT = "300s"


def run(kind: KindCluster) -> str:
    """Deploy the adder Job with an image made here and loaded with ``kind load``; call it."""
    root = addons.repository_root()
    job: dict[str, Any] = yaml.safe_load((root / EXAMPLE_JOB).read_text())
    spec = job["spec"]
    name = job["metadata"]["name"]
    image = f"{EXAMPLE_IMAGE_REPOSITORY}/{spec['name']}:{spec['version']}"
    base = baseimage.BaseImageBuilder(kind.cache.cache_dir, kind.progress).ensure()
    ref_name = f"example-{spec['name']}-{spec['version']}"
    entrypoint = spec["jobtypeExtra"]["entrypoint_path"]
    baseimage.job_image(kind.store, base, root / EXAMPLE_CODE, entrypoint, ref_name)
    bundle = archive.write(kind.store, {image: ref_name}, kind.state_dir / "example-image.tar")
    try:
        kind.progress(f"Loading {image} into the cluster with kind load")
        kind.run_kind("load", "image-archive", str(bundle), f"--name={CLUSTER_NAME}")
    finally:
        bundle.unlink(missing_ok=True)
    spec["image"] = image
    run_kubectl(kind.kubectl, kind.kubeconfig, "apply", "-f", "-", input=yaml.safe_dump(job))
    kind.progress(f"Applied {EXAMPLE_JOB}; waiting for rtjob/{name} to be Ready")
    run_kubectl(
        kind.kubectl,
        kind.kubeconfig,
        "wait",
        f"rtjob/{name}",
        "--for=condition=Ready",
        f"--timeout={READY_TIMEOUT}",
    )
    print(run_kubectl(kind.kubectl, kind.kubeconfig, "get", "rtjobs", "-o", "wide").stdout, end="")
    url = run_kubectl(
        kind.kubectl, kind.kubeconfig, "get", f"rtjob/{name}", "-o", "jsonpath={.status.url}"
    ).stdout.strip()
    return call_from_pod(kind, image, f"{url}/api/v1/perform", {"a": 40, "b": 2})


def call_from_pod(kind: KindCluster, image: str, url: str, body: dict[str, Any]) -> str:
    """POST ``body`` to ``url`` from a short-lived pod (cluster DNS, Service, kube-proxy)."""
    script = (
        "import json, sys, urllib.request\n"
        f"request = urllib.request.Request({url!r}, data={json.dumps(body)!r}.encode(), "
        "headers={'Content-Type': 'application/json'})\n"
        "print(urllib.request.urlopen(request, timeout=30).read().decode())\n"
    )
    pod = f"call-{secrets.token_hex(3)}"
    result = run_kubectl(
        kind.kubectl,
        kind.kubeconfig,
        "run",
        pod,
        "--rm",
        "-i",
        "--restart=Never",
        "--quiet",
        f"--image={image}",
        "--image-pull-policy=Never",
        "--pod-running-timeout=120s",
        "--command",
        "--",
        "python3",
        "-c",
        script,
        check=False,
    )
    if result.returncode != 0:
        raise KindError(
            f"calling {url} from a pod failed: {result.stderr.strip() or result.stdout.strip()}"
        )
    answer = result.stdout.strip()
    print(f"POST {url} {json.dumps(body)} -> {answer}")
    return answer
