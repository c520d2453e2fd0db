"""What ``racetrack dev up`` runs on a bare cluster: the racetrack.io CRDs and the operator.

The operator runs as one more component of the cluster (same log folder, stopped with it),
started with the same command a developer would type, ``python -m racetrack_operator``, and
counted as started once its liveness endpoint answers.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from racetrack_api.permissions import DEFAULT_PLATFORM_NAMESPACE
from racetrack_devcluster.apiclient import http_ok
from racetrack_devcluster.launcher import LocalCluster
from racetrack_devcluster.realnode import baseimage
from racetrack_devcluster.realnode import setup as realnode
from racetrack_images.registry import Reference

OPERATOR_COMPONENT = "racetrack-operator"


def repository_root() -> Path:
    """The checkout this package runs from; the CRDs and examples live there, not in wheels."""
    root = Path(__file__).resolve().parents[2]
    if not (root / "crds" / "kustomization.yaml").is_file():
        raise FileNotFoundError(
            f"no crds/kustomization.yaml under {root}: run racetrack dev from a checkout of "
            "racetrack-operator (pip install -e .), or use --no-operator"
        )
    return root


def crds_folder() -> Path:
    """The racetrack.io CRDs of this checkout (a kustomization folder)."""
    return repository_root() / "crds"


#: What a cluster with the racetrack API has besides the CRDs, as ``manifests/`` makes it: the
#: platform namespace, where the operator keeps the auth key and the Users' tokens.
NAMESPACES = (DEFAULT_PLATFORM_NAMESPACE,)
#: The operator, started as a developer would start it.
OPERATOR_COMMAND = (sys.executable, "-m", "racetrack_operator")


def operator_env(
    kubeconfig: Path, metrics_port: int, liveness: str, settings: dict[str, str]
) -> dict[str, str]:
    """The operator's environment for a local cluster (its settings are RACETRACK_*)."""
    return {
        "KUBECONFIG": str(kubeconfig),
        "RACETRACK_METRICS_PORT": str(metrics_port),
        "RACETRACK_LIVENESS_ENDPOINT": liveness,
        **settings,
        "PYTHONUNBUFFERED": "1",
        **({"PATH": os.environ["PATH"]} if "PATH" in os.environ else {}),
    }


def start_operator(cluster: LocalCluster, extra: dict[str, str] | None = None) -> str:
    """Run the operator against ``cluster``; returns the URL of its Prometheus metrics.

    ``extra`` are more ``RACETRACK_*`` variables (tests shorten retries with them).
    """
    # The platform namespace, as the manifests make it: the operator's Lease lives there, and
    # without it the operator waits for good (saying why).
    platform = repository_root() / "manifests" / "install" / "namespace.yaml"
    cluster.kubectl("apply", "--server-side", "-f", str(platform))
    metrics_port = cluster.ports.claim("racetrack-operator metrics")
    liveness_port = cluster.ports.claim("racetrack-operator liveness")
    liveness = f"http://127.0.0.1:{liveness_port}/healthz"
    settings: dict[str, str] = {}
    base_image = cluster.options.real_node.base_image if cluster.options.real_node else None
    if cluster.real is not None and base_image is not None:
        # The base image the node's registry holds runs docker-proxy Jobs' proxies.
        pushed = Reference(cluster.real.registry_host, baseimage.REPOSITORY, base_image.tag)
        settings["RACETRACK_JOB_RUNTIME_IMAGE"] = str(pushed)
    component = cluster.spawn(
        OPERATOR_COMPONENT,
        list(OPERATOR_COMMAND),
        env=operator_env(
            cluster.kubeconfig,
            metrics_port,
            liveness,
            {
                **settings,
                # A real node can run builds: the registry, builder images, wheels and CA.
                **(realnode.operator_env(cluster.real) if cluster.real else {}),
                **(extra or {}),
            },
        ),
        needs=("kube-apiserver",),
        probe=lambda: http_ok(liveness),
    )
    cluster.wait("the racetrack operator's liveness endpoint", lambda: http_ok(liveness))
    metrics = f"http://127.0.0.1:{metrics_port}/metrics"
    cluster.progress(f"Operator running (pid {component.pid}; metrics on {metrics})")
    return metrics
