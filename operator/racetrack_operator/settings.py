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
    identity: str = ""
    """RACETRACK_IDENTITY: this replica's name in the operator's Lease (the manifests give the
    pod's name); empty = the host's name, so replicas on one host need one each."""
    lease_seconds: float = 15.0
    """RACETRACK_LEASE_SECONDS: how long the operator's Lease holds without renewal: a
    replica that waits takes over at most this long after the holder died (at once after a
    clean shutdown, which releases it)."""
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
    """RACETRACK_API_CONCURRENCY: API requests in flight at once (connections to the API server).

    Many concurrent writes let the API server and etcd batch them. With a thousand Jobs
    converging on two cores, 16, 32 and 64 measured the same (bench/jobs_convergence.py):
    there the machine's CPU sets the pace."""
    object_workers: int = 100
    """RACETRACK_OBJECT_WORKERS: how many Jobs are reconciled at once (the rest wait in
    ``reconcile.jobqueue``, one entry per Job), and how many objects of each other kind kopf
    watches (JobFamilies, Users, ESCs, Permissions) have their events handled at once (the
    events of the rest wait, decoded, in kopf's queue until a worker is free).

    Each one in flight holds its bodies and a task; without a bound, an operator starting
    with a thousand Jobs handles all of them (and their Deployments) at once and keeps the
    memory of that peak for good (~270 MiB against ~130 MiB with 100, at the same speed).
    Far more than ``api_concurrency`` adds no speed: the handlers only queue for API calls."""
    api_retry_seconds: float = 5.0
    """RACETRACK_API_RETRY_SECONDS: the longest wait between two tries while the API server
    does not answer (refused, timed out, 5xx, 429). Watches and reconciliations keep trying
    that often for as long as it takes, so the operator catches up within about this long of
    the API server's return; errors about a request itself back off up to a minute."""
    progress_write_seconds: float = 1.0
    """RACETRACK_PROGRESS_WRITE_SECONDS: how long a Job's status waits to report a rollout's
    progress (replica counts, condition messages) when no condition flipped: progress made
    meanwhile shares the write, and a rollout that finishes first needs only the Ready one.
    Flips are written at once. 0 writes every change at once."""
    family_sync_seconds: float = 1.0
    """RACETRACK_FAMILY_SYNC_SECONDS: how long a JobFamily's status update waits after one of
    its versions changed, so the versions that follow within that time share one update
    (versions turn Ready one after another as their Deployments become available)."""
    identity_wait_seconds: float = 30.0
    """RACETRACK_IDENTITY_WAIT_SECONDS: at start, how long a Job's Deployment waits for the
    operator's identity side (its first look at the auth key and the token Secrets, usually
    well under a second), so pods start with the family's AUTH_TOKEN instead of rolling a
    second time when it arrives. Past it, the Job is deployed without and rolls once the
    token is issued."""
    purge_interval_seconds: float = 300.0
    """RACETRACK_PURGE_INTERVAL_SECONDS: how often every Job's purge score is refreshed (one
    list of Jobs, and a status write only for a Job whose score or reasons changed)."""
    pub_url: str = ""
    """RACETRACK_PUB_URL: gateway URL given to jobs as PUB_URL (for job-to-job calls)."""
    job_runtime_image: str = ""
    """RACETRACK_JOB_RUNTIME_IMAGE: an image holding the job runtime (the python3 base
    image); it runs the proxy beside the user's image in docker-proxy Jobs. Empty: such
    Jobs stall with JobTypeUnavailable."""
    cluster_domain: str = "cluster.local"
    """RACETRACK_CLUSTER_DOMAIN: used in status.url."""
    registry: str = ""
    """RACETRACK_REGISTRY: host[:port] of the registry built images are named by (and pushed
    to); builds are refused while it is empty."""
    registry_endpoint: str = ""
    """RACETRACK_REGISTRY_ENDPOINT: the URL build pods reach that registry at, when it is not
    https://REGISTRY (a node-local name such as 127.0.0.1:5000, an HTTP-only registry)."""
    image_repository_prefix: str = "racetrack/jobs"
    """RACETRACK_IMAGE_REPOSITORY_PREFIX: built images are PREFIX/FAMILY:VERSION-REVISION."""
    builder_image: str = ""
    """RACETRACK_BUILDER_IMAGE: the image of build pods (fetch, python3 layer composition)."""
    buildkit_image: str = ""
    """RACETRACK_BUILDKIT_IMAGE: the image of Dockerfile build pods (rootless BuildKit)."""
    python3_base_image: str = ""
    """RACETRACK_PYTHON3_BASE_IMAGE: what python3 images are built on; in RACETRACK_REGISTRY,
    so its layers are mounted into job images instead of copied."""
    build_env: tuple[str, ...] = ()
    """RACETRACK_BUILD_ENV: comma-separated NAME=VALUE given to every build, under the Job's
    own buildEnv (a package index: PIP_INDEX_URL=..., or PIP_NO_INDEX=1,PIP_FIND_LINKS=...)."""
    build_registry_mirrors: tuple[str, ...] = ()
    """RACETRACK_BUILD_REGISTRY_MIRRORS: comma-separated registries whose images Dockerfile
    builds pull from a mirror, as air-gapped clusters do: ``docker.io`` alone is mirrored by
    RACETRACK_REGISTRY (it holds copies under the same names: ``library/python:3.11-slim``),
    ``docker.io=HOST`` by the registry at HOST."""
    build_ca_configmap: str = ""
    """RACETRACK_BUILD_CA_CONFIGMAP: a ConfigMap in each Job's namespace whose keys are PEM
    certificates builds trust besides the system's (kube-root-ca.crt: the cluster's CA)."""
    build_timeout_seconds: int = 900
    """RACETRACK_BUILD_TIMEOUT_SECONDS: a build still running after this long has failed."""
    build_retries: int = 3
    """RACETRACK_BUILD_RETRIES: how often a build failing for a reason that may pass (an
    unreachable server) is tried again, with the Job controller's backoff (10 s, 20 s...)."""
    max_concurrent_builds: int = 4
    """RACETRACK_MAX_CONCURRENT_BUILDS: builds running at once in the cluster; others wait."""
    build_poll_seconds: float = 1.0
    """RACETRACK_BUILD_POLL_SECONDS: how often a running build's pods are read for its step."""
    build_memory: str = "1Gi"
    """RACETRACK_BUILD_MEMORY: memory request and limit of each build container."""
    build_cpu: str = "1"
    """RACETRACK_BUILD_CPU: CPU limit of each build container (requests a tenth of it)."""

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
        for name in ("api_concurrency", "object_workers", "max_concurrent_builds"):
            if getattr(settings, name) < 1:
                raise SettingsError(f"{PREFIX}{name.upper()} must be at least 1")
        if settings.lease_seconds < 3:
            raise SettingsError(f"{PREFIX}LEASE_SECONDS must be at least 3")
        if settings.api_retry_seconds <= 0:
            raise SettingsError(f"{PREFIX}API_RETRY_SECONDS must be more than 0")
        if settings.identity_wait_seconds < 0:
            raise SettingsError(f"{PREFIX}IDENTITY_WAIT_SECONDS must be 0 or more")
        if settings.purge_interval_seconds <= 0:
            raise SettingsError(f"{PREFIX}PURGE_INTERVAL_SECONDS must be more than 0")
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
        for item in settings.build_env:
            name, sep, _ = item.partition("=")
            if not sep or not name.isidentifier():
                raise SettingsError(
                    f"{PREFIX}BUILD_ENV must be comma-separated NAME=VALUE pairs, not {item!r}"
                )
        for item in settings.build_registry_mirrors:
            name, _, host = item.partition("=")
            if not _REGISTRY_NAME.fullmatch(name) or (host and not _REGISTRY_NAME.fullmatch(host)):
                raise SettingsError(
                    f"{PREFIX}BUILD_REGISTRY_MIRRORS must be comma-separated registry names, "
                    "each alone or as NAME=HOST (docker.io or docker.io=mirror.example.org), "
                    f"not {item!r}"
                )
        base = settings.python3_base_image
        if base and settings.registry and not base.startswith(settings.registry + "/"):
            raise SettingsError(
                f"{PREFIX}PYTHON3_BASE_IMAGE must be in {PREFIX}REGISTRY ({settings.registry}): "
                "its layers are mounted into job images, which works within one registry"
            )
        return settings

    @property
    def registry_url(self) -> str:
        """Where build pods reach the registry."""
        return self.registry_endpoint or f"https://{self.registry}"

    def build_env_map(self) -> dict[str, str]:
        """``RACETRACK_BUILD_ENV`` as a mapping (values may hold "=")."""
        pairs = (item.partition("=") for item in self.build_env)
        return {name: value for name, _, value in pairs}

    @property
    def watched_namespaces(self) -> tuple[str, ...]:
        """The namespaces to watch (empty: all): those asked for, and the platform namespace."""
        if not self.namespaces or self.platform_namespace in self.namespaces:
            return self.namespaces
        return (*self.namespaces, self.platform_namespace)


_REGISTRY_NAME = re.compile(r"[A-Za-z0-9.-]+(:[0-9]+)?")
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
