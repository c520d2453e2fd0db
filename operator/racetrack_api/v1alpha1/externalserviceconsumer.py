"""``ExternalServiceConsumer`` (short name ``esc``): a caller from outside the cluster.

The operator issues its caller token into a Secret it owns (the JWT, and the original's
legacy base64 form); the annotation ``racetrack.io/reset-token-at`` rotates both, and the old
ones stop working at once. The status names the Secret and when the token was issued, never
the token.
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
from racetrack_api.v1alpha1.common import Conditions, TokenLifetime, TokenStatus


class ExternalServiceConsumerSpec(ApiModel):
    """A service that calls jobs through the gateway with its own token."""

    description: Annotated[str, Field(max_length=4096)] | None = None
    """Who or what the consumer is."""
    token_lifetime: TokenLifetime | None = None
    """How long each issued token is accepted (e.g. 720h); unset: until reset. A changed
    lifetime applies to the current token too (it expires at issuedAt + lifetime)."""


class ExternalServiceConsumerStatus(StatusModel):
    """Where the consumer's token is."""

    observed_generation: int = 0
    """metadata.generation the status was computed from."""
    token: TokenStatus | None = None
    """The consumer's caller token."""
    conditions: Conditions = Field(default_factory=list)
    """Ready when the token is issued."""


class ExternalServiceConsumer(CustomResource):
    crd: ClassVar[CrdInfo] = CrdInfo(
        kind="ExternalServiceConsumer",
        plural="externalserviceconsumers",
        scope="Namespaced",
        short_names=("esc",),
        printer_columns=(
            PrinterColumn("Token Secret", ".status.token.secretName"),
            PrinterColumn("Token Issued", ".status.token.issuedAt", "date"),
            PrinterColumn("Ready", '.status.conditions[?(@.type=="Ready")].status'),
            PrinterColumn("Reason", '.status.conditions[?(@.type=="Ready")].reason', priority=1),
            AGE_COLUMN,
        ),
    )

    spec: ExternalServiceConsumerSpec = Field(default_factory=ExternalServiceConsumerSpec)
    status: ExternalServiceConsumerStatus = Field(default_factory=ExternalServiceConsumerStatus)
