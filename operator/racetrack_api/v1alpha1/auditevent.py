"""``AuditEvent``: an immutable record of who did what.

Immutability is a CEL transition rule on ``spec``, so even a cluster admin's ``kubectl edit``
is refused (the admission webhooks also refuse changing an event's labels); deleting old
events stays possible (retention). The webhooks write every event into the platform namespace,
so deleting a namespace never deletes the record of what happened in it. Labels
``racetrack.io/actor``, ``racetrack.io/family``, ``racetrack.io/job`` and
``racetrack.io/namespace`` are set for ``-l`` filtering; ``spec.action`` and ``spec.kind``
are selectable fields (``--field-selector spec.action=job_deleted``).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, ClassVar

from pydantic import Field

from racetrack_api.meta import (
    ApiModel,
    Check,
    CrdInfo,
    CustomResource,
    PrinterColumn,
)


class AuditAction(StrEnum):
    JOB_DEPLOYED = "job_deployed"
    JOB_CHANGED = "job_changed"
    JOB_REDEPLOYED = "job_redeployed"
    JOB_DELETED = "job_deleted"
    JOB_MOVED = "job_moved"
    DEPLOYMENT_FAILED = "deployment_failed"
    FAMILY_CREATED = "family_created"
    USER_REGISTERED = "user_registered"
    USER_ACTIVATED = "user_activated"
    USER_DEACTIVATED = "user_deactivated"
    USER_CHANGED = "user_changed"
    USER_DELETED = "user_deleted"
    ESC_CREATED = "esc_created"
    ESC_DELETED = "esc_deleted"
    TOKEN_RESET = "token_reset"
    PERMISSION_GRANTED = "permission_granted"
    PERMISSION_CHANGED = "permission_changed"
    PERMISSION_REVOKED = "permission_revoked"
    AUTH_KEY_ROTATED = "auth_key_rotated"
    MAINTENANCE_ON = "maintenance_on"
    MAINTENANCE_OFF = "maintenance_off"


class AuditEventSpec(ApiModel):
    """What happened, who did it, to which job."""

    action: AuditAction
    """What happened."""
    actor: Annotated[str, Field(min_length=1, max_length=512)]
    """The requesting user as the API server authenticated them (request.userInfo.username)."""
    actor_user: Annotated[str, Field(max_length=253)] | None = None
    """The racetrack User that Kubernetes identity maps to, if any."""
    time: Annotated[str, Field(json_schema_extra={"format": "date-time"})]
    """When it happened (RFC 3339)."""
    kind: Annotated[str, Field(max_length=63)] | None = None
    """Kind of the object concerned, e.g. Job, User, Permission."""
    name: Annotated[str, Field(max_length=253)] | None = None
    """metadata.name of the object concerned."""
    namespace: Annotated[str, Field(max_length=63)] | None = None
    """Namespace of the object concerned (none for cluster-scoped objects)."""
    family: Annotated[str, Field(max_length=63)] | None = None
    """Job family concerned, if any."""
    version: Annotated[str, Field(max_length=63)] | None = None
    """Job version concerned, if any."""
    message: Annotated[str, Field(max_length=4096)] = ""
    """Human-readable description; never contains secrets."""
    details: dict[str, Any] | None = None
    """Action-specific data (free-form, no secrets)."""


class AuditEvent(CustomResource):
    crd: ClassVar[CrdInfo] = CrdInfo(
        kind="AuditEvent",
        plural="auditevents",
        scope="Namespaced",
        short_names=("rtaudit",),
        printer_columns=(
            PrinterColumn("Action", ".spec.action"),
            PrinterColumn("Actor", ".spec.actor"),
            PrinterColumn("Family", ".spec.family"),
            PrinterColumn("Version", ".spec.version"),
            PrinterColumn("Time", ".spec.time", "date"),
            PrinterColumn("Kind", ".spec.kind", priority=1),
            PrinterColumn("Object", ".spec.name", priority=1),
            PrinterColumn("Message", ".spec.message", priority=1),
        ),
        status_subresource=False,
        selectable_fields=(".spec.action", ".spec.kind", ".spec.actor"),
    )

    spec: Annotated[
        AuditEventSpec,
        Check("self == oldSelf", "AuditEvents are immutable: spec cannot be changed"),
    ]
