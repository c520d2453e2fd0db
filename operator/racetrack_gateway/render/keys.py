"""How things are named in HAProxy's tables: subjects, endpoints, servers and backends.

The configuration (``render.config``) builds the request side of every lookup from the same
rules, so each function here has its counterpart in a ``set-var`` of haproxy.cfg.
"""

from __future__ import annotations

import zlib

from racetrack_api.permissions import SubjectRef, normalize_endpoint
from racetrack_api.v1alpha1.permission import SubjectKind

#: Stands for "every namespace" in permission keys; never a namespace name.
ANY_NAMESPACE = "*"

_SUBJECT_PREFIX = {
    SubjectKind.USER: "u",
    SubjectKind.EXTERNAL_SERVICE_CONSUMER: "e",
    SubjectKind.JOB_FAMILY: "f",
}


def subject_key(ref: SubjectRef) -> str:
    """``u/alice``, ``e/billing/portal``, ``f/billing/scorer``: unique per caller, without
    the separator ``|`` of permission keys (names are DNS names)."""
    prefix = _SUBJECT_PREFIX[ref.kind]
    if ref.kind == SubjectKind.USER:
        return f"{prefix}/{ref.name}"
    return f"{prefix}/{ref.namespace}/{ref.name}"


def endpoint_key(path: str) -> str:
    """A path as prefix lookups compare it: normalised (a leading ``/``, no trailing one),
    then ending with ``/``, so ``/api/v1/perform/`` is a prefix of ``/api/v1/perform/x/``
    and not of ``/api/v1/performance/``; ``/`` stays ``/`` and is a prefix of every path."""
    return normalize_endpoint(path).rstrip("/") + "/"


def server_name(namespace: str, job: str) -> str:
    """The HAProxy server of a Job (namespace and Job names are DNS labels: no dots)."""
    return f"{namespace}.{job}"


def backend_of(server: str, buckets: int) -> str:
    """The backend a server lives in: a stable hash spreads servers over ``buckets``."""
    return f"b{zlib.crc32(server.encode()) % buckets}"


def backends(buckets: int) -> list[str]:
    return [f"b{i}" for i in range(buckets)]
