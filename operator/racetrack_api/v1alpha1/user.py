"""``User`` (cluster-scoped): a Racetrack user, registered inactive and activated by an admin.

The username is metadata.name. An active User has a caller token in a Secret the operator
keeps; deactivating the User revokes it, and the annotation ``racetrack.io/reset-token-at``
issues a new one (the original's "change password": there are no passwords here).
``kubernetesUsername`` ties the User to the Kubernetes identity that ``kubectl`` runs as.
"""

from __future__ import annotations

from typing import Annotated, ClassVar

from pydantic import Field

from racetrack_api.meta import (
    AGE_COLUMN,
    ApiModel,
    CrdInfo,
    CustomResource,
    Matches,
    PrinterColumn,
    StatusModel,
)
from racetrack_api.v1alpha1.common import Conditions, TokenLifetime, TokenStatus


class UserSpec(ApiModel):
    """A person who deploys or calls jobs."""

    email: (
        Annotated[
            str,
            Field(max_length=254),
            Matches(r"^[^@\s]+@[^@\s]+$", "spec.email must be an email address"),
        ]
        | None
    ) = None
    """Contact address."""
    active: bool = False
    """Set by an admin; inactive users get no token."""
    admin: bool = False
    """Racetrack administrator (full_access everywhere)."""
    kubernetes_username: Annotated[str, Field(min_length=1, max_length=253)] | None = None
    """The Kubernetes user name (as the API server authenticates it) acting as this User;
    metadata.name when unset."""
    token_lifetime: TokenLifetime | None = None
    """How long each issued token is accepted (e.g. 2160h); unset: until reset or revoked.
    A changed lifetime applies to the current token too (it expires at issuedAt + lifetime)."""


class UserStatus(StatusModel):
    """Where the user's token is."""

    observed_generation: int = 0
    """metadata.generation the status was computed from."""
    token: TokenStatus | None = None
    """The user's caller token while the user is active."""
    conditions: Conditions = Field(default_factory=list)
    """Ready when an active user's token is issued (or an inactive user has none)."""


class User(CustomResource):
    crd: ClassVar[CrdInfo] = CrdInfo(
        kind="User",
        plural="users",
        scope="Cluster",
        short_names=("rtuser",),
        printer_columns=(
            PrinterColumn("Email", ".spec.email"),
            PrinterColumn("Active", ".spec.active", "boolean"),
            PrinterColumn("Admin", ".spec.admin", "boolean"),
            PrinterColumn("Token Issued", ".status.token.issuedAt", "date"),
            PrinterColumn("Ready", '.status.conditions[?(@.type=="Ready")].status'),
            PrinterColumn("Reason", '.status.conditions[?(@.type=="Ready")].reason', priority=1),
            AGE_COLUMN,
        ),
    )

    spec: UserSpec = Field(default_factory=UserSpec)
    status: UserStatus = Field(default_factory=UserStatus)
