"""Helpers for the real-node tests (a module of its own: ``conftest`` names are ambiguous)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import support  # type: ignore[import-not-found]
from racetrack_devcluster.build import BinaryCache
from racetrack_devcluster.launcher import LocalCluster
from racetrack_devcluster.realnode import assets, baseimage, detect, network
from racetrack_devcluster.realnode.setup import RealNodeOptions
from racetrack_images import oci
from racetrack_images.registry import Reference, Registry


def real_node_options(cache: BinaryCache) -> RealNodeOptions:
    """Build what a real node needs (cached), or skip with the reason it cannot run here."""
    support = detect.check()
    if not support.ok:
        pytest.skip(f"real nodes are not possible here: {support.reason}")
    return assets.options(cache, cache.progress)


def call_in_node(cluster: LocalCluster, url: str, body: object) -> tuple[int, str]:
    """POST JSON to ``url`` from inside the node's network namespace, as a pod's peer would."""
    assert cluster.real is not None
    return network.post_json(cluster.real.network.netns_path, url, body)


REPO = Path(__file__).resolve().parents[3]


def eventually(condition: Callable[[], Any], timeout: float = 120.0) -> Any:
    """Poll until ``condition`` returns something truthy (real pods are slower than kwok's)."""
    return support.eventually(condition, timeout, interval=0.5)


def ready_job_url(cluster: LocalCluster, name: str) -> str:
    """Wait for the Job to be Ready; the base URL of its Service (reachable from the node)."""
    waited = cluster.kubectl(
        "wait", f"rtjob/{name}", "--for=condition=Ready", "--timeout=180s", check=False
    )
    job = cluster.kubectl("get", "rtjob", name, "-o", "yaml").stdout
    assert waited.returncode == 0, waited.stderr + job
    service = json.loads(cluster.kubectl("get", "service", name, "-o", "json").stdout)
    return f"http://{service['spec']['clusterIP']}:{service['spec']['ports'][0]['port']}"


def push_adder_image(cluster: LocalCluster, tag: str) -> str:
    """The prebuilt job image: the base image plus examples/jobs/adder, in the registry."""
    return push_example_image(cluster, "adder", tag)


def push_example_image(
    cluster: LocalCluster, example: str, tag: str, cmd: list[str] | None = None
) -> str:
    """The base image plus ``examples/jobs/<example>``, pushed as ``jobs/<example>:<tag>``;
    ``cmd`` replaces the job runtime's command."""
    return push_job_image(cluster, REPO / "examples/jobs" / example, example, tag, cmd)


def push_job_image(
    cluster: LocalCluster, job_dir: Path, name: str, tag: str, cmd: list[str] | None = None
) -> str:
    """The base image plus ``job_dir`` (its ``entrypoint.py``), pushed as ``jobs/<name>:<tag>``;
    ``cmd`` replaces the job runtime's command."""
    assert cluster.real is not None and cluster.options.real_node is not None
    options = cluster.options.real_node
    assert options.base_image is not None
    store = oci.BlobStore(options.image_store)
    ref_name = f"test-{name}-{tag}"
    baseimage.job_image(store, options.base_image, job_dir, "entrypoint.py", ref_name, cmd)
    target = Reference(cluster.real.registry_host, f"jobs/{name}", tag)
    oci.push(store, ref_name, target, Registry(cluster.real.registry_url))
    return str(target)
