"""From a stamped object, or an admitted deletion, to the AuditEvents that record it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from racetrack_api.labels import ANNOTATION_ROTATE_KEY_AT
from racetrack_api.v1alpha1.auditevent import AuditAction as A
from racetrack_webhooks.audit import changes
from racetrack_webhooks.audit.records import (
    Target,
    Who,
    audit_event,
    describe,
    event_name,
    target_of,
)
from racetrack_webhooks.rules.stamp import LastChange, annotations_of, last_change_of
from racetrack_webhooks.rules.world import World

JsonDict = dict[str, Any]


def stamped_events(kind: str, obj: Mapping[str, Any], world: World) -> list[JsonDict]:
    """The events of the object's last audited change (none without a stamp)."""
    change = last_change_of(obj)
    if change is None:
        return []
    target = target_of(kind, obj)
    events = []
    for raw in change.actions:
        try:
            action = A(raw)
        except ValueError:
            continue  # a stamp from a newer version, or edited by hand
        who, details = Who(change.by, change.user), dict(change.details)
        if action == A.FAMILY_CREATED:
            who, details = _family_creator(target, obj, world, who, details)
        events.append(
            audit_event(
                action=action,
                target=target,
                who=who,
                at=change.at,
                name=event_name(target, action, change.at),
                namespace=world.platform_namespace,
                message=describe(action, target, who, obj, details, world.platform_namespace),
                details=details,
            )
        )
    return events


def deletion_event(
    kind: str, old: Mapping[str, Any], who: Who, at: str, request_uid: str, world: World
) -> JsonDict | None:
    """The pending event of an admitted deletion, or None when deleting ``kind`` is not
    audited."""
    action = changes.deletion_of(kind, dict(old))
    if action is None:
        return None
    return _pending(action, kind, old, who, at, request_uid, world, {})


def rotation_event(
    new: Mapping[str, Any], who: Who, at: str, request_uid: str, world: World
) -> JsonDict:
    """The pending event of an admitted auth key rotation; confirmed once the Secret carries
    the new ``racetrack.io/rotate-key-at``."""
    rotated = {"rotateKeyAt": annotations_of(new)[ANNOTATION_ROTATE_KEY_AT]}
    return _pending(A.AUTH_KEY_ROTATED, "Secret", new, who, at, request_uid, world, rotated)


def _pending(
    action: A,
    kind: str,
    obj: Mapping[str, Any],
    who: Who,
    at: str,
    request_uid: str,
    world: World,
    details: JsonDict,
) -> JsonDict:
    """Named by the admission request: each attempt is its own event until one is seen."""
    target = target_of(kind, obj)
    return audit_event(
        action=action,
        target=target,
        who=who,
        at=at,
        name=event_name(target, action, request_uid),
        namespace=world.platform_namespace,
        message=describe(action, target, who, obj, {}, world.platform_namespace),
        details={"request": request_uid, **details},
        pending=True,
    )


def _family_creator(
    target: Target, family: Mapping[str, Any], world: World, stamped: Who, details: JsonDict
) -> tuple[Who, JsonDict]:
    """A family the operator made for a Job is credited to whoever deployed that Job."""
    created = str((family.get("metadata") or {}).get("creationTimestamp") or "")
    for job in world.jobs_of_family(target.namespace or "", target.name):
        if job.created and created and job.created > created:
            break  # made by hand before any Job of it: the stamp is right
        deployer = _deployer(job.last_change, job.deployed_by)
        if deployer is not None:
            return deployer, {**details, "job": job.name, "createdBy": stamped.username}
    return stamped, details


def _deployer(change: LastChange | None, deployed_by: str | None) -> Who | None:
    if change is not None and A.JOB_DEPLOYED in change.actions:
        return Who(change.by, change.user)
    return Who(deployed_by) if deployed_by else None
