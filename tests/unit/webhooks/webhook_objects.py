"""racetrack.io objects and AdmissionReviews as the API server sends them, for the webhook
tables (imported by file name: tests/unit/webhooks is on the path under pytest)."""

from __future__ import annotations

import copy
import json
from typing import Any

from racetrack_api.v1alpha1 import API_VERSION
from racetrack_webhooks.rules.identity import Actor
from racetrack_webhooks.rules.world import UserRecord

JsonDict = dict[str, Any]
NS = "ml"


def meta(name: str, namespace: str | None = NS, **extra: Any) -> JsonDict:
    out: JsonDict = {
        "name": name,
        "uid": f"uid-{name}",
        "creationTimestamp": "2026-11-25T12:00:00Z",
    }
    if namespace is not None:
        out["namespace"] = namespace
    out.update(extra)
    return out


def job(
    family: str = "adder",
    version: str = "1.0.0",
    name: str | None = None,
    namespace: str = NS,
    annotations: dict[str, str] | None = None,
    **spec: Any,
) -> JsonDict:
    body: JsonDict = {
        "apiVersion": API_VERSION,
        "kind": "Job",
        "metadata": meta(name or f"{family}-v{version.replace('.', '-')}", namespace),
        "spec": {
            "name": family,
            "version": version,
            "ownerEmail": "ml@example.org",
            "jobtype": "python3:1.0.0",
            "image": "registry.example.org/adder:1",
            "jobtypeExtra": {"entrypoint_path": "entrypoint.py"},
            **spec,
        },
    }
    if annotations:
        body["metadata"]["annotations"] = dict(annotations)
    return body


def family(name: str = "adder", namespace: str = NS, deleted: str | None = None) -> JsonDict:
    """A JobFamily; ``deleted``: its racetrack.io/deleted-versions."""
    body: JsonDict = {
        "apiVersion": API_VERSION,
        "kind": "JobFamily",
        "metadata": meta(name, namespace),
        "spec": {},
    }
    if deleted is not None:
        body["metadata"]["annotations"] = {"racetrack.io/deleted-versions": deleted}
    return body


def user(name: str, **spec: Any) -> JsonDict:
    return {"apiVersion": API_VERSION, "kind": "User", "metadata": meta(name, None), "spec": spec}


def permission(
    name: str,
    subject: str,
    scope: str,
    namespace: str = NS,
    subject_kind: str = "User",
    **resource: str,
) -> JsonDict:
    return {
        "apiVersion": API_VERSION,
        "kind": "Permission",
        "metadata": meta(name, namespace),
        "spec": {
            "subject": {"kind": subject_kind, "name": subject},
            "scope": scope,
            "resource": resource,
        },
    }


def esc(name: str, namespace: str = NS) -> JsonDict:
    return {
        "apiVersion": API_VERSION,
        "kind": "ExternalServiceConsumer",
        "metadata": meta(name, namespace),
        "spec": {},
    }


def maintenance(name: str = "upgrade", active: bool = True, message: str = "Upgrade") -> JsonDict:
    return {
        "apiVersion": API_VERSION,
        "kind": "Maintenance",
        "metadata": meta(name, None),
        "spec": {"active": active, "message": message},
    }


def changed(obj: JsonDict, **spec: Any) -> JsonDict:
    out = copy.deepcopy(obj)
    out["spec"].update(spec)
    return out


def annotated(obj: JsonDict, **annotations: str) -> JsonDict:
    out = copy.deepcopy(obj)
    out["metadata"].setdefault("annotations", {}).update(annotations)
    return out


def actor(
    username: str, user_name: str | None = None, admin: bool = False, active: bool = True
) -> Actor:
    record = UserRecord(user_name, active=active, admin=admin) if user_name else None
    return Actor(username, (), record)


def review(
    operation: str,
    obj: JsonDict | None,
    old: JsonDict | None = None,
    username: str = "alice",
    dry_run: bool = False,
    uid: str = "req-1",
) -> bytes:
    target = obj or old or {}
    kind = str(target.get("kind"))
    group = "racetrack.io" if kind != "Secret" else ""
    request: JsonDict = {
        "uid": uid,
        "kind": {"group": group, "version": "v1alpha1", "kind": kind},
        "resource": {"group": group, "version": "v1alpha1", "resource": kind.lower() + "s"},
        "operation": operation,
        "name": target.get("metadata", {}).get("name"),
        "userInfo": {"username": username, "groups": ["system:authenticated"]},
        "object": obj,
        "oldObject": old,
        "dryRun": dry_run,
    }
    namespace = target.get("metadata", {}).get("namespace")
    if namespace:
        request["namespace"] = namespace
    return json.dumps(
        {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}
    ).encode()
