"""API paths of the objects we read and write; one place that spells group and version."""

from __future__ import annotations

from racetrack_api.meta import CustomResource
from racetrack_api.v1alpha1 import API_VERSION


def deployments(namespace: str | None, name: str | None = None) -> str:
    """``namespace`` None: the Deployments of every namespace (a collection to list or watch)."""
    base = "/apis/apps/v1" + (f"/namespaces/{namespace}" if namespace else "") + "/deployments"
    return f"{base}/{name}" if name else base


def services(namespace: str | None, name: str | None = None) -> str:
    """``namespace`` None: the Services of every namespace (a collection to list or watch)."""
    base = "/api/v1" + (f"/namespaces/{namespace}" if namespace else "") + "/services"
    return f"{base}/{name}" if name else base


def batch_jobs(namespace: str | None, name: str | None = None) -> str:
    """Batch Jobs (``batch/v1``), which build images; ``namespace`` None: every namespace."""
    base = "/apis/batch/v1" + (f"/namespaces/{namespace}" if namespace else "") + "/jobs"
    return f"{base}/{name}" if name else base


def pods(namespace: str) -> str:
    return f"/api/v1/namespaces/{namespace}/pods"


def secrets(namespace: str | None, name: str | None = None) -> str:
    """``namespace`` None: the Secrets of every namespace (a collection to list or watch)."""
    if namespace is None:
        return "/api/v1/secrets"
    base = f"/api/v1/namespaces/{namespace}/secrets"
    return f"{base}/{name}" if name else base


def racetrack(
    kind: type[CustomResource], namespace: str | None = None, name: str | None = None
) -> str:
    """A racetrack.io collection or object, e.g. ``racetrack(Job, "default", "adder-v1")``;
    ``namespace`` None for cluster-scoped kinds (and for a namespaced kind in every
    namespace)."""
    scope = f"/namespaces/{namespace}" if namespace is not None else ""
    base = f"/apis/{API_VERSION}{scope}/{kind.crd.plural}"
    return f"{base}/{name}" if name else base
