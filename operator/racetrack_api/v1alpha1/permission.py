"""``Permission``: "SUBJECT can SCOPE on RESOURCE".

Read by the gateway (calls) and the admission webhooks (deploys) through one matcher,
``racetrack_api.permissions``, which also documents the rules: a Permission grants on the jobs
of its namespace (every namespace from the platform namespace); an empty resource means every
job; ``version`` and ``endpoint`` narrow a ``family``. The operator reports in status whether
the subject and the family exist: a Permission naming a missing subject grants nothing until
it appears, but is kept (GitOps applies objects in any order).
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
    StatusModel,
)
from racetrack_api.v1alpha1.common import DNS_LABEL_REGEX, Conditions


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
    namespace: (
        Annotated[
            str,
            Field(max_length=63),
            Matches(DNS_LABEL_REGEX, "spec.subject.namespace must be a namespace name"),
        ]
        | None
    ) = None
    """Namespace of an ExternalServiceConsumer or JobFamily subject in another namespace."""

    cel_rules: ClassVar[tuple[CelRule, ...]] = (
        CelRule(
            "!has(self.__namespace__) || self.kind != 'User'",
            "spec.subject.namespace is for ExternalServiceConsumer and JobFamily subjects; "
            "Users are cluster-wide",
            field_path=".namespace",
            check=lambda s: s.namespace is None or s.kind != SubjectKind.USER,
        ),
    )


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
    """Job version of that family: exact (1.2.3) or a wildcard (1.x, 1.2.x)."""
    endpoint: (
        Annotated[
            str,
            Field(max_length=1024),
            Matches(r"^/", "spec.resource.endpoint must be a path starting with '/'"),
        ]
        | None
    ) = None
    """Endpoint path prefix, e.g. /api/v1/perform (also grants /api/v1/perform/...)."""


class PermissionSpec(ApiModel):
    """A grant."""

    subject: Subject
    """Who."""
    scope: Scope
    """What they may do."""
    resource: PermissionResource = Field(default_factory=PermissionResource)
    """On which jobs; empty means all."""


class PermissionStatus(StatusModel):
    """Whether the grant can take effect."""

    observed_generation: int = 0
    """metadata.generation the status was computed from."""
    conditions: Conditions = Field(default_factory=list)
    """Ready when the subject exists; SubjectFound and FamilyFound say what is missing."""


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
            PrinterColumn("Ready", '.status.conditions[?(@.type=="Ready")].status'),
            PrinterColumn("Reason", '.status.conditions[?(@.type=="Ready")].reason', priority=1),
            AGE_COLUMN,
        ),
    )

    spec: PermissionSpec
    status: PermissionStatus = Field(default_factory=PermissionStatus)
