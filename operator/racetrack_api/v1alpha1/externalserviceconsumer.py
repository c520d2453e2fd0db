"""``ExternalServiceConsumer`` (short name ``esc``): a caller from outside the cluster.

The spec only describes the caller; the status names the Secret of its token once one is
issued.
"""

from __future__ import annotations

from typing import Annotated, ClassVar

from pydantic import Field

from racetrack_api.meta import (
    AGE_COLUMN,
    ApiModel,
    CrdInfo,
    CustomResource,
    PrinterColumn,
    StatusModel,
)
from racetrack_api.v1alpha1.common import Conditions


class ExternalServiceConsumerSpec(ApiModel):
    """A service that calls jobs through the gateway with its own token."""

    description: Annotated[str, Field(max_length=4096)] | None = None
    """Who or what the consumer is."""


class ExternalServiceConsumerStatus(StatusModel):
    """Where the consumer's token is."""

    observed_generation: int = 0
    """metadata.generation the status was computed from."""
    token_secret_name: str | None = None
    """Secret holding the caller token."""
    conditions: Conditions = Field(default_factory=list)
    """Conditions of the consumer."""


class ExternalServiceConsumer(CustomResource):
    crd: ClassVar[CrdInfo] = CrdInfo(
        kind="ExternalServiceConsumer",
        plural="externalserviceconsumers",
        scope="Namespaced",
        short_names=("esc",),
        printer_columns=(PrinterColumn("Token Secret", ".status.tokenSecretName"), AGE_COLUMN),
    )

    spec: ExternalServiceConsumerSpec = Field(default_factory=ExternalServiceConsumerSpec)
    status: ExternalServiceConsumerStatus = Field(default_factory=ExternalServiceConsumerStatus)
