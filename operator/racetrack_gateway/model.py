"""What the gateway keeps of each watched object: small, immutable views, parsed from the
API server's JSON without trusting its shape (a malformed object becomes "nothing to
serve", never an exception in the agent).

Only what the tables need is kept, so thousands of Jobs and Services cost little memory.
"""

from __future__ import annotations

import dataclasses
import datetime
import ipaddress
from typing import Any

import pydantic

from racetrack_api.jobphase import parse_time
from racetrack_api.permissions import Grant, SubjectRef, grant_of
from racetrack_api.v1alpha1 import API_VERSION, Permission
from racetrack_api.v1alpha1.permission import Scope, SubjectKind

JsonDict = dict[str, Any]

#: On a Job, where its calls go instead of its Service; honoured only when the gateway is
#: started with RACETRACK_GATEWAY_ALLOW_UPSTREAM_OVERRIDE (tests with host processes).
ANNOTATION_UPSTREAM = "racetrack.io/gateway-upstream"
#: The scopes that let a caller call a job.
CALL_SCOPES = frozenset({Scope.CALL_JOB, Scope.FULL_ACCESS})


@dataclasses.dataclass(frozen=True)
class Caller:
    """A subject with the sha256 hashes of its valid tokens."""

    ref: SubjectRef
    hashes: tuple[str, ...]
    expires_at: datetime.datetime | None = None

    def valid_hashes(self, now: datetime.datetime) -> tuple[str, ...]:
        if self.expires_at is not None and now >= self.expires_at:
            return ()
        return self.hashes


@dataclasses.dataclass(frozen=True)
class JobView:
    namespace: str
    name: str
    family: str
    version: str
    created: str
    public_endpoints: tuple[str, ...] = ()
    upstream_override: str | None = None


@dataclasses.dataclass(frozen=True)
class FamilyStatusView:
    namespace: str
    name: str
    created: str
    #: version -> (Job name, whether it serves), from the family's status.
    versions: tuple[tuple[str, str, bool], ...]


@dataclasses.dataclass(frozen=True)
class Version:
    """One version of a routed family, as the tables need it."""

    version: str
    job: str
    serving: bool
    upstream: str | None
    public_endpoints: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class Family:
    """A family as the gateway routes it: one namespace, its versions."""

    namespace: str
    name: str
    versions: tuple[Version, ...]


@dataclasses.dataclass(frozen=True)
class MaintenanceView:
    name: str
    created: str
    blocks_calls: bool
    message: str


_KEPT_METADATA = ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")


def slim(raw: JsonDict) -> JsonDict:
    """An object without what the gateway never reads (managedFields, kubectl's copy of the
    last applied object, labels), so thousands of them stay small in the informers."""
    meta = _meta(raw)
    kept = {key: meta[key] for key in _KEPT_METADATA if key in meta}
    annotations = {
        key: value
        for key, value in _dict(meta.get("annotations")).items()
        if key.startswith("racetrack.io/")
    }
    if annotations:
        kept["annotations"] = annotations
    return {**{k: v for k, v in raw.items() if k != "metadata"}, "metadata": kept}


def _meta(raw: JsonDict) -> JsonDict:
    meta = raw.get("metadata")
    return meta if isinstance(meta, dict) else {}


def _dict(value: Any) -> JsonDict:
    return value if isinstance(value, dict) else {}


def _hashes(raw: JsonDict) -> tuple[tuple[str, ...], datetime.datetime | None]:
    token = _dict(_dict(raw.get("status")).get("token"))
    hashes = token.get("hashes")
    valid = tuple(
        h.lower()
        for h in (hashes if isinstance(hashes, list) else [])
        if isinstance(h, str) and len(h) == 64 and all(c in "0123456789abcdefABCDEF" for c in h)
    )
    return valid, parse_time(token.get("expiresAt"))


def caller(kind: SubjectKind, raw: JsonDict) -> Caller | None:
    """The caller a User, ExternalServiceConsumer or JobFamily object is; None when it can
    call nothing (an inactive User, no published hashes)."""
    meta = _meta(raw)
    name = meta.get("name")
    if not isinstance(name, str):
        return None
    if kind == SubjectKind.USER and _dict(raw.get("spec")).get("active") is not True:
        # Deactivating a User revokes its token even before the operator withdraws it.
        return None
    hashes, expires = _hashes(raw)
    if not hashes:
        return None
    namespace = None if kind == SubjectKind.USER else str(meta.get("namespace") or "")
    return Caller(SubjectRef(kind, name, namespace), hashes, expires)


def job(raw: JsonDict) -> JobView | None:
    meta, spec = _meta(raw), _dict(raw.get("spec"))
    name, namespace = meta.get("name"), meta.get("namespace")
    family, version = spec.get("name"), spec.get("version")
    if not all(isinstance(v, str) and v for v in (name, namespace, family, version)):
        return None
    endpoints = spec.get("publicEndpoints")
    public = tuple(
        e for e in (endpoints if isinstance(endpoints, list) else []) if isinstance(e, str)
    )
    override = address(_dict(meta.get("annotations")).get(ANNOTATION_UPSTREAM))
    return JobView(
        namespace=str(namespace),
        name=str(name),
        family=str(family),
        version=str(version),
        created=str(meta.get("creationTimestamp") or ""),
        public_endpoints=public,
        upstream_override=override,
    )


def family_status(raw: JsonDict) -> FamilyStatusView | None:
    meta = _meta(raw)
    name, namespace = meta.get("name"), meta.get("namespace")
    if not isinstance(name, str) or not isinstance(namespace, str):
        return None
    versions = []
    listed = _dict(raw.get("status")).get("versions")
    for entry in listed if isinstance(listed, list) else []:
        entry = _dict(entry)
        version, job_name = entry.get("version"), entry.get("job")
        if isinstance(version, str) and isinstance(job_name, str):
            versions.append((version, job_name, entry.get("ready") is True))
    return FamilyStatusView(
        namespace, name, str(meta.get("creationTimestamp") or ""), tuple(versions)
    )


def address(text: Any) -> str | None:
    """``IP:PORT`` (``[IPv6]:PORT``) in HAProxy's spelling, or None for anything else: the
    value goes into runtime commands and haproxy.cfg, so only an address may pass."""
    if not isinstance(text, str):
        return None
    host, _, port = text.rpartition(":")
    if not port.isdigit() or not 0 < int(port) < 65536:
        return None
    try:
        ip = ipaddress.ip_address(host.removeprefix("[").removesuffix("]"))
    except ValueError:
        return None
    return f"[{ip}]:{int(port)}" if ip.version == 6 else f"{ip}:{int(port)}"


def service_address(raw: JsonDict) -> str | None:
    """``clusterIP:port`` of a job's Service (its first port), or None."""
    spec = _dict(raw.get("spec"))
    ports = spec.get("ports")
    port = _dict(ports[0] if isinstance(ports, list) and ports else None).get("port")
    ip = spec.get("clusterIP")
    if not isinstance(ip, str) or not isinstance(port, int):
        return None
    return address(f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}")


def call_grant(raw: JsonDict, platform_namespace: str) -> Grant | None:
    """The Permission as a grant, when it grants calls (call_job or full_access)."""
    try:
        permission = Permission.model_validate(
            {"apiVersion": API_VERSION, "kind": Permission.crd.kind, **raw}
        )
    except pydantic.ValidationError:
        return None
    if permission.spec.scope not in CALL_SCOPES:
        return None
    return grant_of(permission, platform_namespace)


def maintenance(raw: JsonDict) -> MaintenanceView | None:
    meta, spec = _meta(raw), _dict(raw.get("spec"))
    name = meta.get("name")
    if not isinstance(name, str):
        return None
    message = spec.get("message")
    return MaintenanceView(
        name=name,
        created=str(meta.get("creationTimestamp") or ""),
        blocks_calls=spec.get("active", True) is True and spec.get("blockCalls") is True,
        message=message if isinstance(message, str) else "",
    )
