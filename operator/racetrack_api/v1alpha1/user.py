"""``User`` (cluster-scoped): a Racetrack user, registered inactive and activated by an admin.

The username is metadata.name. Who may flip ``active`` is the webhooks' business (RBAC on the
field is impossible); the schema only describes it.
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
from racetrack_api.v1alpha1.common import Conditions


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


class UserStatus(StatusModel):
    """Where the user's token is."""

    observed_generation: int = 0
    """metadata.generation the status was computed from."""
    token_secret_name: str | None = None
    """Secret holding the user token while the user is active."""
    conditions: Conditions = Field(default_factory=list)
    """Conditions of the user."""


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
            AGE_COLUMN,
        ),
    )

    spec: UserSpec = Field(default_factory=UserSpec)
    status: UserStatus = Field(default_factory=UserStatus)
