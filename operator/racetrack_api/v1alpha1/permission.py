"""``Permission``: "SUBJECT can SCOPE on RESOURCE".

Read by the gateway and the webhooks; the operator produces nothing from it. An empty resource
means every job; ``version`` and ``endpoint`` narrow a ``family``.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, ClassVar

from pydantic import Field

from racetrack_api.meta import (
    AGE_COLUMN,
    ApiModel,
    CelRule,
    CrdInfo,
    CustomResource,
    Matches,
    PrinterColumn,
)
from racetrack_api.v1alpha1.common import DNS_LABEL_REGEX


class SubjectKind(StrEnum):
    USER = "User"
    EXTERNAL_SERVICE_CONSUMER = "ExternalServiceConsumer"
    JOB_FAMILY = "JobFamily"


class Scope(StrEnum):
    READ_JOB = "read_job"
    DEPLOY_JOB = "deploy_job"
    DEPLOY_NEW_FAMILY = "deploy_new_family"
    DELETE_JOB = "delete_job"
    CALL_JOB = "call_job"
    CALL_ADMIN_API = "call_admin_api"
    FULL_ACCESS = "full_access"


class Subject(ApiModel):
    """Who is granted the scope."""

    kind: SubjectKind
    """User, ExternalServiceConsumer or JobFamily."""
    name: Annotated[str, Field(min_length=1, max_length=253)]
    """metadata.name of the subject (Users are cluster-wide, others in this namespace)."""


class PermissionResource(ApiModel):
    """What the scope applies to; omitted fields mean any."""

    cel_rules: ClassVar[tuple[CelRule, ...]] = (
        CelRule(
            "!has(self.version) || has(self.family)",
            "spec.resource.version narrows a family: set spec.resource.family too",
            field_path=".version",
            check=lambda r: r.version is None or r.family is not None,
        ),
    )

    family: (
        Annotated[
            str,
            Field(max_length=63),
            Matches(DNS_LABEL_REGEX, "spec.resource.family must be a job family name"),
        ]
        | None
    ) = None
    """Job family name."""
    version: Annotated[str, Field(max_length=63)] | None = None
    """Exact job version of that family."""
    endpoint: (
        Annotated[
            str,
            Field(max_length=1024),
            Matches(r"^/", "spec.resource.endpoint must be a path starting with '/'"),
        ]
        | None
    ) = None
    """Endpoint path prefix, e.g. /api/v1/perform."""


class PermissionSpec(ApiModel):
    """A grant."""

    subject: Subject
    """Who."""
    scope: Scope
    """What they may do."""
    resource: PermissionResource = Field(default_factory=PermissionResource)
    """On which jobs; empty means all."""


class Permission(CustomResource):
    crd: ClassVar[CrdInfo] = CrdInfo(
        kind="Permission",
        plural="permissions",
        scope="Namespaced",
        short_names=("rtperm",),
        printer_columns=(
            PrinterColumn("Subject Kind", ".spec.subject.kind"),
            PrinterColumn("Subject", ".spec.subject.name"),
            PrinterColumn("Scope", ".spec.scope"),
            PrinterColumn("Family", ".spec.resource.family"),
            PrinterColumn("Version", ".spec.resource.version", priority=1),
            PrinterColumn("Endpoint", ".spec.resource.endpoint", priority=1),
            AGE_COLUMN,
        ),
        status_subresource=False,
    )

    spec: PermissionSpec
