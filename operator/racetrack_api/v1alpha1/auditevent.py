"""``AuditEvent``: an immutable record of who did what.

Immutability is a CEL transition rule on ``spec``, so even a cluster admin's ``kubectl edit``
is refused; deleting old events stays possible (retention). Labels ``racetrack.io/family``,
``racetrack.io/job`` and ``racetrack.io/actor`` are set by the writers for ``-l`` filtering.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, ClassVar

from pydantic import Field

from racetrack_api.meta import (
    AGE_COLUMN,
    ApiModel,
    Check,
    CrdInfo,
    CustomResource,
    PrinterColumn,
)


class AuditAction(StrEnum):
    JOB_DEPLOYED = "job_deployed"
    JOB_REDEPLOYED = "job_redeployed"
    JOB_DELETED = "job_deleted"
    JOB_MOVED = "job_moved"
    DEPLOYMENT_FAILED = "deployment_failed"
    PERMISSION_CHANGED = "permission_changed"
    TOKEN_RESET = "token_reset"
    MAINTENANCE_ON = "maintenance_on"
    MAINTENANCE_OFF = "maintenance_off"


class AuditEventSpec(ApiModel):
    """What happened, who did it, to which job."""

    action: AuditAction
    """What happened."""
    actor: Annotated[str, Field(min_length=1, max_length=512)]
    """The requesting user as the API server authenticated them."""
    time: Annotated[str, Field(json_schema_extra={"format": "date-time"})]
    """When it happened (RFC 3339)."""
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
            AGE_COLUMN,
        ),
        status_subresource=False,
    )

    spec: Annotated[
        AuditEventSpec,
        Check("self == oldSelf", "AuditEvents are immutable: spec cannot be changed"),
    ]
