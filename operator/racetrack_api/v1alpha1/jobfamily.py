"""``JobFamily``: all versions of one job name, created by the operator on the first version.

The family is never owned by its Jobs: deleting the last version leaves the family and an
empty ``status.versions``, so a later version keeps everything that points at the family.
The family's caller token (for job-to-job calls) is in a Secret the family owns, mounted into
every version's pods as ``AUTH_TOKEN``; ``racetrack.io/reset-token-at`` on the family rotates
it and the pods roll.
"""

from __future__ import annotations

from typing import Annotated, ClassVar

from pydantic import Field

from racetrack_api.meta import (
    AGE_COLUMN,
    ApiModel,
    CelRule,
    CrdInfo,
    CustomResource,
    PrinterColumn,
    StatusModel,
)
from racetrack_api.v1alpha1.common import DNS_LABEL_REGEX, Conditions, TokenStatus


class JobFamilySpec(ApiModel):
    """Settings shared by all versions of a job; the name is metadata.name."""

    description: Annotated[str, Field(max_length=4096)] | None = None
    """What the job family is for."""


class FamilyVersion(StatusModel):
    """One Job of the family."""

    version: str
    """spec.version of the Job."""
    job: str
    """metadata.name of the Job."""
    ready: bool = False
    """Whether the Job serves: Ready, or rolling out while its pods are still available."""


class JobFamilyStatus(StatusModel):
    """Versions of the family, highest semantic version first."""

    observed_generation: int = 0
    """metadata.generation the status was computed from."""
    versions: Annotated[list[FamilyVersion], Field(max_length=1024)] = Field(default_factory=list)
    """Every Job of the family, highest version first."""
    latest: str | None = None
    """Highest ready stable version (no pre-release); what callers of 'latest' reach."""
    token: TokenStatus | None = None
    """The family's caller token, used by its jobs to call other jobs."""
    conditions: Conditions = Field(default_factory=list)
    """Conditions of the family."""


class JobFamily(CustomResource):
    crd: ClassVar[CrdInfo] = CrdInfo(
        kind="JobFamily",
        plural="jobfamilies",
        scope="Namespaced",
        short_names=("rtfamily",),
        printer_columns=(PrinterColumn("Latest", ".status.latest"), AGE_COLUMN),
        root_rules=(
            CelRule(
                f"self.metadata.name.matches('{DNS_LABEL_REGEX}') "
                "&& size(self.metadata.name) <= 63",
                "metadata.name of a JobFamily is the job name: lowercase letters, digits and "
                "'-', starting with a letter, at most 63 characters",
            ),
        ),
    )

    spec: JobFamilySpec = Field(default_factory=JobFamilySpec)
    status: JobFamilyStatus = Field(default_factory=JobFamilyStatus)
