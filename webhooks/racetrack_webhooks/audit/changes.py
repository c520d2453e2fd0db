"""Which audited actions a change is: the one definition the stamper and the auditor share."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from racetrack_api.labels import (
    ANNOTATION_REDEPLOY_AT,
    ANNOTATION_RESET_TOKEN_AT,
    ANNOTATION_ROTATE_KEY_AT,
)
from racetrack_api.v1alpha1.auditevent import AuditAction as A
from racetrack_webhooks.rules.stamp import annotations_of

JsonDict = dict[str, Any]

#: Kinds whose creates and updates the mutating webhook stamps.
STAMPED_KINDS = ("Job", "JobFamily", "User", "ExternalServiceConsumer", "Permission", "Maintenance")

_CREATED = {
    "Job": A.JOB_DEPLOYED,
    "JobFamily": A.FAMILY_CREATED,
    "User": A.USER_REGISTERED,
    "ExternalServiceConsumer": A.ESC_CREATED,
    "Permission": A.PERMISSION_GRANTED,
}
_DELETED = {
    "Job": A.JOB_DELETED,
    "User": A.USER_DELETED,
    "ExternalServiceConsumer": A.ESC_DELETED,
    "Permission": A.PERMISSION_REVOKED,
}
_USER_FIELDS = ("admin", "email", "kubernetesUsername")


@dataclasses.dataclass(frozen=True)
class Change:
    actions: tuple[A, ...]
    details: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.actions)


NO_CHANGE = Change(())


def change_of(kind: str, old: JsonDict | None, new: JsonDict) -> Change:
    """The audited actions of a create (``old`` None) or an update of ``kind``."""
    if kind == "Maintenance":
        return _maintenance(old, new)
    if old is None:
        action = _CREATED.get(kind)
        return Change((action,)) if action else NO_CHANGE
    actions: list[A] = []
    details: dict[str, Any] = {}
    old_spec, new_spec = _spec(old), _spec(new)
    if kind == "Job":
        fields = _changed_fields(old_spec, new_spec)
        if "infrastructureTarget" in fields:
            actions.append(A.JOB_MOVED)
            details["target"] = str(new_spec.get("infrastructureTarget") or "")
            fields.remove("infrastructureTarget")
        if fields:
            actions.append(A.JOB_CHANGED)
            details["fields"] = fields
        if _annotation_changed(old, new, ANNOTATION_REDEPLOY_AT):
            actions.append(A.JOB_REDEPLOYED)
    elif kind == "User":
        if bool(old_spec.get("active")) != bool(new_spec.get("active")):
            actions.append(A.USER_ACTIVATED if new_spec.get("active") else A.USER_DEACTIVATED)
        fields = [f for f in _USER_FIELDS if old_spec.get(f) != new_spec.get(f)]
        if fields:
            actions.append(A.USER_CHANGED)
            details["fields"] = fields
    elif kind == "Permission" and old_spec != new_spec:
        actions.append(A.PERMISSION_CHANGED)
    if kind in ("User", "ExternalServiceConsumer", "JobFamily") and _annotation_changed(
        old, new, ANNOTATION_RESET_TOKEN_AT
    ):
        actions.append(A.TOKEN_RESET)
    return Change(tuple(actions), details)


def deletion_of(kind: str, old: JsonDict) -> A | None:
    """The audited action of deleting ``old``, if deleting it is audited."""
    if kind == "Maintenance":
        return A.MAINTENANCE_OFF if _maintenance_active(old) else None
    return _DELETED.get(kind)


def is_key_rotation(old: JsonDict, new: JsonDict) -> bool:
    """The auth key Secret got a new ``racetrack.io/rotate-key-at``."""
    return _annotation_changed(old, new, ANNOTATION_ROTATE_KEY_AT)


def _maintenance(old: JsonDict | None, new: JsonDict) -> Change:
    was_on = old is not None and _maintenance_active(old)
    now_on = _maintenance_active(new)
    if now_on and not was_on:
        return Change((A.MAINTENANCE_ON,))
    if was_on and not now_on:
        return Change((A.MAINTENANCE_OFF,))
    return NO_CHANGE


def _maintenance_active(obj: JsonDict) -> bool:
    return _spec(obj).get("active", True) is not False


def _spec(obj: JsonDict) -> dict[str, Any]:
    spec = obj.get("spec")
    return spec if isinstance(spec, dict) else {}


def _changed_fields(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    return sorted(key for key in set(old) | set(new) if old.get(key) != new.get(key))


def _annotation_changed(old: JsonDict, new: JsonDict, key: str) -> bool:
    value = annotations_of(new).get(key)
    return value is not None and value != annotations_of(old).get(key)
