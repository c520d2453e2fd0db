"""``Maintenance`` (cluster-scoped): while one is active, job changes are refused.

The refusal is the maintenance-guard webhook's job; the object only carries the switch and the
message users see.
"""

from __future__ import annotations

from typing import Annotated, ClassVar

from pydantic import Field

from racetrack_api.meta import AGE_COLUMN, ApiModel, CrdInfo, CustomResource, PrinterColumn


class MaintenanceSpec(ApiModel):
    """A maintenance window."""

    active: bool = True
    """While true, deploying, changing, deleting and moving jobs is refused."""
    message: Annotated[str, Field(max_length=1024)] = ""
    """Shown to whoever is refused, e.g. 'Cluster upgrade until 14:00 UTC'."""
    block_calls: bool = False
    """Also answer calls to jobs with 503 while active (by default jobs keep serving)."""


class Maintenance(CustomResource):
    crd: ClassVar[CrdInfo] = CrdInfo(
        kind="Maintenance",
        plural="maintenances",
        scope="Cluster",
        short_names=("rtmaint",),
        printer_columns=(
            PrinterColumn("Active", ".spec.active", "boolean"),
            PrinterColumn("Block Calls", ".spec.blockCalls", "boolean"),
            PrinterColumn("Message", ".spec.message"),
            AGE_COLUMN,
        ),
        status_subresource=False,
    )

    spec: MaintenanceSpec = Field(default_factory=MaintenanceSpec)
