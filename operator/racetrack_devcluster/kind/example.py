"""``racetrack dev kind up --example``: the adder Job on kind, end to end.

The adder's image is made here (the python3 base image plus ``examples/jobs/adder``), loaded
into the cluster with ``kind load image-archive``, and ``examples/adder.yaml`` is applied
with it (through the platform's webhooks, made Ready by its operator); then ``perform`` is
called from the host through the gateway, as a user calls a job on kind:
``http://127.0.0.1:8080/pub/job/adder/1.0.0/api/v1/perform`` (the gateway's node port,
which the cluster maps to the host).
"""

from __future__ import annotations

import json
import secrets
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from racetrack_devcluster import addons
from racetrack_devcluster.kind.cluster import KindCluster, KindError
from racetrack_devcluster.launcher import run_kubectl
from racetrack_devcluster.realnode import baseimage

EXAMPLE_JOB = Path("examples/adder.yaml")
EXAMPLE_CODE = Path("examples/jobs/adder")
EXAMPLE_IMAGE_REPOSITORY = "racetrack.local/job-entrypoint"
READY_TIMEOUT = "300s"
PERFORM = "/api/v1/perform"
GATEWAY_TIMEOUT = 120.0
#: What the gateway and the node port answer before the job's route is in place.
NOT_ROUTED_YET = frozenset({404, 502, 503})


def run(kind: KindCluster, gateway_port: int) -> str:
    """Deploy the adder Job with an image made here and loaded with ``kind load``; call it
    through the gateway on the host's ``gateway_port``."""
    root = addons.repository_root()
    job: dict[str, Any] = yaml.safe_load((root / EXAMPLE_JOB).read_text())
    spec = job["spec"]
    name = job["metadata"]["name"]
    image = f"{EXAMPLE_IMAGE_REPOSITORY}/{spec['name']}:{spec['version']}"
    base = baseimage.BaseImageBuilder(kind.cache.cache_dir, kind.progress).ensure()
    ref_name = f"example-{spec['name']}-{spec['version']}"
    entrypoint = spec["jobtypeExtra"]["entrypoint_path"]
    baseimage.job_image(kind.store, base, root / EXAMPLE_CODE, entrypoint, ref_name)
    kind.load_images({image: ref_name})
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
    return call_gateway(gateway_port, spec["name"], spec["version"], PERFORM, {"a": 40, "b": 2})


def gateway_url(port: int, name: str, version: str, path: str) -> str:
    return f"http://127.0.0.1:{port}/pub/job/{name}/{version}{path}"


def call_gateway(
    port: int, name: str, version: str, path: str, body: dict[str, Any],
    timeout: float = GATEWAY_TIMEOUT,
) -> str:  # fmt: skip
    """POST ``body`` to the job through the gateway on the host. A Ready Job is routed a
    moment later (the gateway's agent learns of it by a watch), and a node port answers only
    once kube-proxy has programmed it: until then, and only then, it tries again."""
    url = gateway_url(port, name, version, path)
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                answer = str(response.read().decode()).strip()
            break
        except urllib.error.HTTPError as error:
            if error.code not in NOT_ROUTED_YET:
                detail = error.read().decode(errors="replace").strip()
                raise KindError(f"POST {url} answered {error.code}: {detail}") from error
            outcome = f"HTTP {error.code}"
        except OSError as error:
            outcome = str(error)
        if time.monotonic() > deadline:
            raise KindError(
                f"POST {url} did not answer within {timeout:.0f} s (last: {outcome}); is the "
                "gateway Available (kubectl -n racetrack-system get pods)?"
            )
        time.sleep(1.0)
    print(f"POST {url} {json.dumps(body)} -> {answer}")
    return answer


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
