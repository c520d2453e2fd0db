"""``racetrack dev example``: the main job of ``make dev``, end to end on the dev cluster.

It applies ``examples/adder.yaml`` and waits for the Job to be Ready. With a real node it first
makes the Job's image here (the cached base image plus ``examples/jobs/adder``), pushes it to
the cluster's local registry and points the Job at it, and at the end calls ``perform``
through the gateway (the example declares it a public endpoint, so no token is needed), to
show a job that really answers. With simulated nodes the Job becomes Ready, but no
container runs, which it says.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from racetrack_devcluster.build import BinaryCache
from racetrack_devcluster.devstate import DevState
from racetrack_devcluster.launcher import run_kubectl
from racetrack_devcluster.realnode import assets, baseimage, network
from racetrack_images import oci
from racetrack_images.registry import Reference, Registry

EXAMPLE_JOB = Path("examples/adder.yaml")
EXAMPLE_CODE = Path("examples/jobs/adder")
READY_TIMEOUT = "180s"


def _job_manifest(root: Path) -> dict[str, Any]:
    manifest: dict[str, Any] = yaml.safe_load((root / EXAMPLE_JOB).read_text())
    return manifest


def push_job_image(state: DevState, cache: BinaryCache, root: Path, job: dict[str, Any]) -> str:
    """Build the adder's image from the base image and push it to the dev registry."""
    options = assets.options(cache)
    assert options.base_image is not None  # assets.options always builds or finds it
    store = oci.BlobStore(options.image_store)
    spec = job["spec"]
    ref_name = f"example-{spec['name']}-{spec['version']}"
    entrypoint = spec["jobtypeExtra"]["entrypoint_path"]
    baseimage.job_image(store, options.base_image, root / EXAMPLE_CODE, entrypoint, ref_name)
    target = Reference(state.registry, f"racetrack/job-entrypoint/{spec['name']}", spec["version"])
    oci.push(store, ref_name, target, Registry(f"http://{state.registry}"))
    return str(target)


def run(state: DevState, cache: BinaryCache, root: Path, say: Callable[[str], None]) -> None:
    kubectl = Path(state.kubectl)
    kubeconfig = Path(state.kubeconfig)
    job = _job_manifest(root)
    name = job["metadata"]["name"]
    if state.nodes == "real":
        say(f"Building the {job['spec']['name']} job image from the base image")
        job["spec"]["image"] = push_job_image(state, cache, root, job)
        say(f"Pushed {job['spec']['image']}")
    run_kubectl(kubectl, kubeconfig, "apply", "-f", "-", input=yaml.safe_dump(job))
    say(f"Applied {EXAMPLE_JOB}; waiting for rtjob/{name} to be Ready")
    run_kubectl(
        kubectl,
        kubeconfig,
        "wait",
        f"rtjob/{name}",
        "--for=condition=Ready",
        f"--timeout={READY_TIMEOUT}",
    )
    print(run_kubectl(kubectl, kubeconfig, "get", "rtjobs", "-o", "wide").stdout, end="")
    if state.nodes != "real":
        say("Simulated nodes: the Job is Ready, but no container runs (see --nodes real)")
        return
    body = {"a": 40, "b": 2}
    if state.gateway:
        family = job["spec"]["name"]
        perform_url = f"{state.gateway}/pub/job/{family}/latest/api/v1/perform"
        status, answer = _post_json(perform_url, body)
    else:
        # A cluster started before the gateway existed: call the Service from inside the
        # node's namespace (no cluster DNS there, so by its cluster IP).
        address = run_kubectl(
            kubectl,
            kubeconfig,
            "get",
            f"service/{name}",
            "-o",
            "jsonpath={.spec.clusterIP}:{.spec.ports[0].port}",
        ).stdout.strip()
        perform_url = f"http://{address}/api/v1/perform"
        status, answer = network.post_json(Path(state.netns), perform_url, body)
    if status != 200:
        raise RuntimeError(f"POST {perform_url} answered {status or 'nothing'}: {answer}")
    print(f"POST {perform_url} {json.dumps(body)} -> {answer}")


def _post_json(url: str, body: object, attempts: int = 30) -> tuple[int, str]:
    """POST JSON, trying again while the gateway has not learnt of the new version yet."""
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    status, text = 0, ""
    for _ in range(attempts):
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return int(response.status), response.read().decode()
        except urllib.error.HTTPError as error:
            status, text = error.code, error.read().decode()
        except OSError as error:
            status, text = 0, str(error)
        time.sleep(1)
    return status, text
