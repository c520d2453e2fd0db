"""AuditEvents as objects: names, labels and the one-line description, in the original's style.

Every event goes into the platform namespace: an audit log kept beside the objects would be
deleted with their namespace. An event's name is derived from what it records (the object's
uid and the stamp's time, or the admission request's uid), so writing it twice, from a second
replica or after a restart, is a harmless conflict rather than a duplicate.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Mapping
from typing import Any

from racetrack_api.labels import (
    ANNOTATION_DEPLOYED_BY,
    LABEL_ACTOR,
    LABEL_FAMILY,
    LABEL_JOB,
    LABEL_NAMESPACE,
    LABEL_PENDING,
    LABEL_VERSION,
    MANAGED_BY,
)
from racetrack_api.v1alpha1 import API_VERSION
from racetrack_api.v1alpha1.auditevent import AuditAction as A
from racetrack_webhooks.rules.stamp import annotations_of

JsonDict = dict[str, Any]
_LABEL_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclasses.dataclass(frozen=True)
class Target:
    """The object an event is about, as the event records it."""

    kind: str
    name: str
    namespace: str | None
    uid: str
    family: str | None = None
    version: str | None = None
    owner: str | None = None
    """Who deployed the Job (its ``racetrack.io/deployed-by``)."""


@dataclasses.dataclass(frozen=True)
class Who:
    username: str
    user: str | None = None

    @property
    def display(self) -> str:
        return self.user or self.username


def target_of(kind: str, obj: Mapping[str, Any]) -> Target:
    meta = obj.get("metadata") or {}
    spec = obj.get("spec") or {}
    family = version = owner = None
    if kind == "Job":
        family, version = str(spec.get("name") or ""), str(spec.get("version") or "")
        owner = annotations_of(obj).get(ANNOTATION_DEPLOYED_BY)
    elif kind == "JobFamily":
        family = str(meta.get("name") or "")
    elif kind == "Permission":
        family = (spec.get("resource") or {}).get("family")
        version = (spec.get("resource") or {}).get("version")
    return Target(
        kind=kind,
        name=str(meta.get("name") or ""),
        namespace=str(meta["namespace"]) if meta.get("namespace") else None,
        uid=str(meta.get("uid") or ""),
        family=family,
        version=version,
        owner=owner,
    )


def event_name(target: Target, action: str, *identity: str) -> str:
    digest = hashlib.sha256("\0".join((target.uid, action, *identity)).encode()).hexdigest()
    base = re.sub(r"[^a-z0-9.-]+", "-", target.name.lower()).strip(".-")[:200] or "object"
    return f"{base}.{action.replace('_', '-')}.{digest[:12]}"


def label_value(text: str) -> str:
    """``text`` as a label value: unsafe characters become ``_``; past 63, a hash ends it."""
    value = _LABEL_UNSAFE.sub("_", text).strip("._-")
    if len(value) > 63:
        digest = hashlib.sha256(text.encode()).hexdigest()[:10]
        value = value[:52].rstrip("._-") + "-" + digest
    return value


def audit_event(
    *,
    action: A,
    target: Target,
    who: Who,
    at: str,
    name: str,
    namespace: str,
    message: str,
    details: Mapping[str, Any] | None = None,
    pending: bool = False,
) -> JsonDict:
    labels = {
        "app.kubernetes.io/managed-by": MANAGED_BY,
        LABEL_ACTOR: label_value(who.display),
        LABEL_NAMESPACE: target.namespace or "",
        LABEL_FAMILY: target.family or "",
        LABEL_VERSION: label_value(target.version or ""),
        LABEL_JOB: target.name if target.kind == "Job" else "",
    }
    if pending:
        labels[LABEL_PENDING] = "true"
    spec: JsonDict = {
        "action": str(action),
        "actor": who.username[:512] or "unknown",
        "time": at,
        "kind": target.kind,
        "name": target.name,
        "message": message[:4096],
    }
    optional = {
        "actorUser": who.user,
        "namespace": target.namespace,
        "family": target.family,
        "version": target.version,
    }
    spec.update({key: value for key, value in optional.items() if value})
    merged = {"uid": target.uid, **(details or {})}
    spec["details"] = {key: value for key, value in merged.items() if value not in (None, "")}
    return {
        "apiVersion": API_VERSION,
        "kind": "AuditEvent",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {key: value for key, value in labels.items() if value},
        },
        "spec": spec,
    }


def describe(
    action: A,
    target: Target,
    who: Who,
    obj: Mapping[str, Any],
    details: Mapping[str, Any],
    platform_namespace: str | None = None,
) -> str:
    """One line in the original's style: ``job adder v1.0.0 of user alice deleted by bob``."""
    by = f"by {who.display}"
    spec = obj.get("spec") or {}
    if target.kind == "Job":
        job = f"job {target.family} v{target.version}"
        of = f" of user {target.owner}" if target.owner else ""
        if action == A.JOB_DEPLOYED:
            return f"{job} deployed {by}"
        if action == A.JOB_CHANGED:
            fields = ", ".join(details.get("fields") or ())
            return f"{job}{of} changed {by}" + (f" ({fields})" if fields else "")
        if action == A.JOB_MOVED:
            place = details.get("target") or "the default infrastructure target"
            return f"{job}{of} moved to {place} {by}"
        verb = {A.JOB_REDEPLOYED: "redeployed", A.JOB_DELETED: "deleted"}.get(action, str(action))
        return f"{job}{of} {verb} {by}"
    if action == A.FAMILY_CREATED:
        first = details.get("job")
        return f"job family {target.name} created {by}" + (f" (first Job {first})" if first else "")
    if action == A.TOKEN_RESET:
        noun = {"User": "user", "ExternalServiceConsumer": "ESC", "JobFamily": "job family"}
        return f"token of {noun.get(target.kind, target.kind)} {target.name} reset {by}"
    if target.kind == "User":
        if action == A.USER_CHANGED:
            fields = ", ".join(details.get("fields") or ())
            return f"user {target.name} changed {by}" + (f" ({fields})" if fields else "")
        verb = {
            A.USER_REGISTERED: "registered" + (" active" if spec.get("active") else ""),
            A.USER_ACTIVATED: "activated",
            A.USER_DEACTIVATED: "deactivated",
            A.USER_DELETED: "deleted",
        }.get(action, str(action))
        return f"user {target.name} {verb} {by}"
    if target.kind == "ExternalServiceConsumer":
        verb = "created" if action == A.ESC_CREATED else "deleted"
        return f"ESC {target.name} {verb} {by}"
    if target.kind == "Permission":
        verb = {
            A.PERMISSION_GRANTED: "granted",
            A.PERMISSION_CHANGED: "changed",
            A.PERMISSION_REVOKED: "revoked",
        }.get(action, str(action))
        everywhere = target.namespace == platform_namespace
        summary = grant_summary(spec, None if everywhere else target.namespace)
        return f"permission {target.name} {verb} {by}: {summary}"
    if action == A.MAINTENANCE_ON:
        reason = str(spec.get("message") or "").strip()
        return f"maintenance {target.name} turned on {by}" + (f": {reason}" if reason else "")
    if action == A.MAINTENANCE_OFF:
        return f"maintenance {target.name} turned off {by}"
    if action == A.AUTH_KEY_ROTATED:
        return f"auth key rotated {by}"
    return f"{action} of {target.kind} {target.name} {by}"


def grant_summary(spec: Mapping[str, Any], namespace: str | None) -> str:
    subject = spec.get("subject") or {}
    resource = spec.get("resource") or {}
    what = resource.get("family") or "every job"
    if resource.get("version"):
        what += f" v{resource['version']}"
    if resource.get("endpoint"):
        what += f" endpoint {resource['endpoint']}"
    where = f"namespace {namespace}" if namespace else "every namespace"
    return (
        f"{subject.get('kind')} {subject.get('name')} may {spec.get('scope')} on {what} ({where})"
    )
