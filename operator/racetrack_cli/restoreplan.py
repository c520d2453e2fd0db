"""What a backup holds and how it goes back into a cluster: pure functions over objects as JSON.

A backup holds every racetrack.io object and the Secrets the project owns: the auth key, every
token Secret (labelled ``racetrack.io/token``), the Secrets Jobs name (git credentials, build
and runtime environment) and Secrets labelled for a job (``racetrack.io/job`` or
``racetrack.io/family``).

Restoring creates objects stripped of what the API server sets (uid, resourceVersion,
timestamps, status, managed fields, finalizers), owners before what they own, so that every
``ownerReference`` can be rewritten to its owner's new uid: the auth key and job Secrets,
then Users, then ESCs and JobFamilies, then their token Secrets, Jobs, Permissions, audit
events and last Maintenances. A token Secret owned by its subject's new uid, signed by the
restored auth key and answering the same reset is one the operator keeps and publishes, so
tokens issued before the backup stay valid.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

JsonDict = dict[str, Any]
#: (apiVersion, kind, namespace or "", name): what identifies an object in a backup.
Key = tuple[str, str, str, str]

_SERVER_SET = (
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "managedFields",
    "selfLink",
    "finalizers",
)
#: Written by tools about this cluster's copy of the object, not part of what it is.
_DROPPED_ANNOTATION_PREFIXES = ("kopf.zalando.org/", "kubectl.kubernetes.io/last-applied")
#: Kinds in the order they are created; Secrets owned by another object follow it. An active
#: Maintenance comes last: admission webhooks refuse changes to Jobs while one is active.
_KIND_RANK = {
    "Secret": 0,
    "User": 1,
    "ExternalServiceConsumer": 2,
    "JobFamily": 2,
    "Job": 3,
    "Permission": 4,
    "AuditEvent": 5,
    "Maintenance": 6,
}
_UNKNOWN_RANK = 7


def key(obj: JsonDict) -> Key:
    meta = obj.get("metadata") or {}
    return (
        str(obj.get("apiVersion")),
        str(obj.get("kind")),
        str(meta.get("namespace") or ""),
        str(meta.get("name")),
    )


def describe(obj: JsonDict) -> str:
    _, kind, namespace, name = key(obj)
    return f"{kind} {namespace}/{name}" if namespace else f"{kind} {name}"


def secrets_named_by_jobs(jobs: Iterable[JsonDict]) -> dict[tuple[str, str], str]:
    """(namespace, Secret name) -> the first Job naming it (credentials, build or runtime env)."""
    named: dict[tuple[str, str], str] = {}
    for job in jobs:
        meta = job.get("metadata") or {}
        spec = job.get("spec") or {}
        refs = [
            ((spec.get("git") or {}).get("credentials") or {}).get("name"),
            (spec.get("secretBuildEnv") or {}).get("name"),
            (spec.get("secretRuntimeEnv") or {}).get("name"),
        ]
        for ref in refs:
            if ref:
                named.setdefault((str(meta.get("namespace")), str(ref)), str(meta.get("name")))
    return named


def live(obj: JsonDict) -> bool:
    """Not being deleted (a backup of an object on its way out would bring it back)."""
    return not (obj.get("metadata") or {}).get("deletionTimestamp")


def strip(obj: JsonDict) -> JsonDict:
    """The object as it is created again: what the API server sets, and status, removed.

    ``ownerReferences`` stay (with the old uids) for ``remap_owners``.
    """
    clean = copy.deepcopy(obj)
    clean.pop("status", None)
    meta = clean.setdefault("metadata", {})
    for field in _SERVER_SET:
        meta.pop(field, None)
    annotations = {
        k: v
        for k, v in (meta.get("annotations") or {}).items()
        if not k.startswith(_DROPPED_ANNOTATION_PREFIXES)
    }
    if annotations:
        meta["annotations"] = annotations
    else:
        meta.pop("annotations", None)
    return clean


def restore_order(objects: Iterable[JsonDict]) -> list[JsonDict]:
    """Owners before what they own; by kind rank, then namespace and name (a stable order)."""
    items = list(objects)
    by_uid = {
        (o.get("metadata") or {}).get("uid"): key(o)
        for o in items
        if (o.get("metadata") or {}).get("uid")
    }
    ranks = {key(o): _KIND_RANK.get(str(o.get("kind")), _UNKNOWN_RANK) for o in items}
    owners = {
        key(o): [
            by_uid[ref.get("uid")]
            for ref in (o.get("metadata") or {}).get("ownerReferences") or []
            if ref.get("uid") in by_uid
        ]
        for o in items
    }
    # Owner chains are short; raise each rank above its owners' until nothing moves (bounded,
    # so an ownership cycle, which Kubernetes itself cannot resolve, cannot loop forever).
    for _ in range(len(items)):
        moved = False
        for k, its_owners in owners.items():
            needed = max((ranks[o] + 1 for o in its_owners), default=0)
            if ranks[k] < needed:
                ranks[k] = needed
                moved = True
        if not moved:
            break
    return sorted(items, key=lambda o: (ranks[key(o)], key(o)[2], key(o)[1], key(o)[3]))


@dataclass(frozen=True)
class Remapped:
    obj: JsonDict
    #: Owners not in the backup, whose references were dropped (described).
    dropped: tuple[str, ...]


def remap_owners(obj: JsonDict, old_uids: dict[str, Key], new_uids: dict[Key, str]) -> Remapped:
    """``obj`` (stripped) with each ownerReference pointing at its owner's new uid.

    ``old_uids`` maps the backup's uids to objects of the backup; ``new_uids`` the uids of the
    objects restored so far. A reference to an owner outside the backup is dropped (Kubernetes'
    garbage collector would delete an object whose owners are all gone).
    """
    remapped = copy.deepcopy(obj)
    meta = remapped.setdefault("metadata", {})
    kept, dropped = [], []
    for ref in meta.get("ownerReferences") or []:
        owner = old_uids.get(ref.get("uid"))
        if owner is None:
            dropped.append(f"{ref.get('kind')} {ref.get('name')}")
            continue
        if owner not in new_uids:
            raise ValueError(
                f"{describe(obj)} is owned by {owner[1]} {owner[3]}, which is not restored yet"
            )
        kept.append({**ref, "uid": new_uids[owner]})
    if kept:
        meta["ownerReferences"] = kept
    else:
        meta.pop("ownerReferences", None)
    return Remapped(remapped, tuple(dropped))


def same_content(existing: JsonDict, wanted: JsonDict) -> bool:
    """Whether an object already in the cluster is the one the backup would create."""
    if wanted.get("kind") == "Secret":
        return bool(
            (existing.get("data") or {}) == (wanted.get("data") or {})
            and existing.get("type") == wanted.get("type")
        )
    return bool(existing.get("spec") == wanted.get("spec"))


def namespaces_of(objects: Iterable[JsonDict]) -> list[str]:
    return sorted({key(o)[2] for o in objects if key(o)[2]})


def summary(objects: Iterable[JsonDict]) -> str:
    """``3 Users, 2 Jobs, 5 Secrets``: how many of each kind, in restore order."""
    counts: dict[str, int] = {}
    for obj in objects:
        counts[str(obj.get("kind"))] = counts.get(str(obj.get("kind")), 0) + 1
    ordered = sorted(counts, key=lambda kind: (_KIND_RANK.get(kind, _UNKNOWN_RANK), kind))
    return ", ".join(f"{counts[kind]} {_noun(kind, counts[kind])}" for kind in ordered) or "nothing"


def _noun(kind: str, count: int) -> str:
    """``JobFamily`` counted: ``1 JobFamily``, ``2 JobFamilies`` (never ``JobFamilys``)."""
    if count == 1:
        return kind
    if kind.endswith("y") and kind[-2:-1] not in ("a", "e", "o", "u"):
        return kind[:-1] + "ies"
    return kind + "s"
