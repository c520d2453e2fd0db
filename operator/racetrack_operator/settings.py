"""Operator settings from ``RACETRACK_*`` environment variables, with documented defaults.

One frozen object, read once at start (crate-operator style), passed to whatever needs it, so
tests build their own without touching ``os.environ``. Defaults for job resources are the
original Lifecycle's.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping

from racetrack_api.permissions import DEFAULT_PLATFORM_NAMESPACE

PREFIX = "RACETRACK_"


class SettingsError(ValueError):
    """A setting that cannot be used; the message names the variable."""


@dataclasses.dataclass(frozen=True)
class Settings:
    namespaces: tuple[str, ...] = ()
    """RACETRACK_NAMESPACES: comma-separated namespaces to watch; empty = all namespaces. The
    platform namespace is always watched as well."""
    platform_namespace: str = DEFAULT_PLATFORM_NAMESPACE
    """RACETRACK_PLATFORM_NAMESPACE: where the auth key and the Users' token Secrets live, and
    whose Permissions grant on every namespace (only cluster admins should write there)."""
    metrics_port: int = 9090
    """RACETRACK_METRICS_PORT: Prometheus metrics on 0.0.0.0:PORT/metrics; 0 = a free port."""
    liveness_endpoint: str = "http://0.0.0.0:8080/healthz"
    """RACETRACK_LIVENESS_ENDPOINT: kopf's liveness probe URL; empty = none."""
    stalled_retry_seconds: float = 10.0
    """RACETRACK_STALLED_RETRY_SECONDS: how often a Job waiting for a Secret looks again."""
    default_memory_min: str = "256Mi"
    """RACETRACK_DEFAULT_MEMORY_MIN: memory request when the Job sets none."""
    default_memory_max: str = "1Gi"
    """RACETRACK_DEFAULT_MEMORY_MAX: memory limit when the Job sets none."""
    default_cpu_min: str = "10m"
    """RACETRACK_DEFAULT_CPU_MIN: CPU request when the Job sets none."""
    default_cpu_max: str = "1000m"
    """RACETRACK_DEFAULT_CPU_MAX: CPU limit when the Job sets none."""
    image_pull_policy: str = "IfNotPresent"
    """RACETRACK_IMAGE_PULL_POLICY: Always, IfNotPresent or Never."""
    image_pull_secrets: tuple[str, ...] = ()
    """RACETRACK_IMAGE_PULL_SECRETS: comma-separated Secret names for private registries."""
    api_concurrency: int = 64
    """RACETRACK_API_CONCURRENCY: API requests in flight at once (threads and connections).

    Many concurrent writes let the API server and etcd batch them. With a thousand Jobs
    converging on two cores, 16, 32 and 64 measured the same (bench/jobs_convergence.py):
    there the machine's CPU sets the pace."""
    object_workers: int = 100
    """RACETRACK_OBJECT_WORKERS: how many objects of each watched kind (Jobs, their
    Deployments, JobFamilies) have their events handled at once; the rest wait in the watch.

    Each one in flight holds its bodies and a task; without a bound, an operator starting
    with a thousand Jobs handles all of them (and their Deployments) at once and keeps the
    memory of that peak for good (~270 MiB against ~130 MiB with 100, at the same speed).
    Far more than ``api_concurrency`` adds no speed: the handlers only queue for API calls."""
    family_sync_seconds: float = 1.0
    """RACETRACK_FAMILY_SYNC_SECONDS: how long a JobFamily's status update waits after one of
    its versions changed, so the versions that follow within that time share one update
    (versions turn Ready one after another as their Deployments become available)."""
    pub_url: str = ""
    """RACETRACK_PUB_URL: gateway URL given to jobs as PUB_URL (for job-to-job calls)."""
    job_runtime_image: str = ""
    """RACETRACK_JOB_RUNTIME_IMAGE: an image holding the job runtime (the python3 base
    image); it runs the proxy beside the user's image in docker-proxy Jobs. Empty: such
    Jobs stall with JobTypeUnavailable."""
    cluster_domain: str = "cluster.local"
    """RACETRACK_CLUSTER_DOMAIN: used in status.url."""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        source = os.environ if env is None else env
        values: dict[str, object] = {}
        for field in dataclasses.fields(cls):
            raw = source.get(PREFIX + field.name.upper())
            if raw is None:
                continue
            values[field.name] = _parse(field.name, field.type, raw)
        settings = cls(**values)  # type: ignore[arg-type]
        for name in ("api_concurrency", "object_workers"):
            if getattr(settings, name) < 1:
                raise SettingsError(f"{PREFIX}{name.upper()} must be at least 1")
        if not _NAMESPACE.fullmatch(settings.platform_namespace):
            raise SettingsError(
                f"{PREFIX}PLATFORM_NAMESPACE must be a namespace name (lowercase letters, "
                f"digits and '-'), not {settings.platform_namespace!r}"
            )
        if settings.image_pull_policy not in ("Always", "IfNotPresent", "Never"):
            raise SettingsError(
                f"{PREFIX}IMAGE_PULL_POLICY must be Always, IfNotPresent or Never, "
                f"not {settings.image_pull_policy!r}"
            )
        return settings

    @property
    def watched_namespaces(self) -> tuple[str, ...]:
        """The namespaces to watch (empty: all): those asked for, and the platform namespace."""
        if not self.namespaces or self.platform_namespace in self.namespaces:
            return self.namespaces
        return (*self.namespaces, self.platform_namespace)


_NAMESPACE = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")


def _parse(name: str, type_: object, raw: str) -> object:
    variable = PREFIX + name.upper()
    text = raw.strip()
    if type_ in ("tuple[str, ...]", tuple[str, ...]):
        return tuple(item.strip() for item in text.split(",") if item.strip())
    if type_ in ("int", int):
        try:
            return int(text)
        except ValueError:
            raise SettingsError(f"{variable} must be an integer, not {raw!r}") from None
    if type_ in ("float", float):
        try:
            return float(text)
        except ValueError:
            raise SettingsError(f"{variable} must be a number, not {raw!r}") from None
    return text
