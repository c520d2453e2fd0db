"""Types shared by several kinds: conditions, quantities, names, secret references.

Conditions follow the Kubernetes convention (``metav1.Condition``) so that kstatus, ``kubectl
wait --for=condition=Ready`` and dashboards understand them without knowing Racetrack.
Quantities accept what a Kubernetes container accepts (``512Mi``, ``0.5``, ``100m``, or a bare
integer) and are kept as strings, the way the API server prints them back.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import Field, GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema

from racetrack_api.durations import DURATION_REGEX
from racetrack_api.meta import ApiModel, Matches, StatusModel
from racetrack_api.quantity import parse_quantity

# DNS-1035 label, the strictest Kubernetes name: the family name ends up in object names,
# label values and hostnames, so it must fit all of them.
DNS_LABEL_REGEX = r"^[a-z]([-a-z0-9]*[a-z0-9])?$"

ConditionStatus = Literal["True", "False", "Unknown"]


class Condition(StatusModel):
    """One observation of the object's state, as in metav1.Condition."""

    type: Annotated[str, Field(max_length=316)]
    """Condition type, e.g. Ready, Deployed, Available, Stalled."""
    status: ConditionStatus
    """True, False or Unknown."""
    reason: Annotated[str, Field(max_length=1024)] = ""
    """CamelCase reason for the last transition; one of the documented constants."""
    message: Annotated[str, Field(max_length=32768)] = ""
    """What happened and, when something is wrong, what to do about it."""
    last_transition_time: Annotated[str, Field(json_schema_extra={"format": "date-time"})] = ""
    """When status last changed (RFC 3339); it does not move when only the message does."""
    observed_generation: int = 0
    """metadata.generation of the object this condition was computed from."""


#: A status' conditions: at most one per type (a map keyed by type, as kstatus expects).
Conditions = Annotated[
    list[Condition],
    Field(
        max_length=16,
        json_schema_extra={
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["type"],
        },
    ),
]


def quantity_value(value: str) -> Decimal:
    """The numeric value of a Kubernetes quantity (``512Mi`` -> 536870912)."""
    return parse_quantity(value)


def is_quantity(value: str) -> bool:
    try:
        quantity_value(value)
    except ValueError:
        return False
    return True


@dataclasses.dataclass(frozen=True)
class QuantityType:
    """Pydantic type for an int-or-string quantity, validated like the API server does."""

    field: str

    def __get_pydantic_core_schema__(
        self, source: type[Any], handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        message = self.message()

        def check(value: int | str) -> str:
            # bool is an int in Python but never a quantity.
            if isinstance(value, bool) or not is_quantity(str(value)):
                raise ValueError(message)
            return str(value)

        return core_schema.no_info_plain_validator_function(
            check, serialization=core_schema.to_string_ser_schema()
        )

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {
            # Exactly this anyOf is what the API server accepts with int-or-string; value
            # validations go beside it.
            "anyOf": [{"type": "integer"}, {"type": "string"}],
            "x-kubernetes-int-or-string": True,
            "maxLength": 64,
            "x-kubernetes-validations": [
                {
                    # A bare integer is always a valid quantity; strings must parse.
                    "rule": "type(self) == int || isQuantity(self)",
                    "message": self.message(),
                }
            ],
        }

    def message(self) -> str:
        return (
            f"{self.field} must be a Kubernetes quantity such as 512Mi, 2Gi, 500m or 1 "
            "(a number with an optional suffix: Ki Mi Gi Ti Pi Ei, k M G T P E, m)"
        )


class SecretRef(ApiModel):
    """A Secret in the object's namespace; every key becomes an environment variable."""

    name: Annotated[
        str,
        Field(max_length=253),
        Matches(
            r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$",
            "a Secret name must be a DNS subdomain: lowercase letters, digits, '-' and '.'",
        ),
    ]
    """Name of the Secret."""


class TokenStatus(StatusModel):
    """Where a subject's caller token is, and what the gateway may accept; never the token."""

    secret_name: str
    """Secret (owned by the subject, in the operator's namespace for Users) holding the token."""
    secret_namespace: str | None = None
    """Namespace of that Secret: the subject's own, or the platform namespace for Users."""
    hashes: Annotated[list[Annotated[str, Field(max_length=64)]], Field(max_length=4)] = Field(
        default_factory=list
    )
    """sha256 (hex) of every currently valid form of the token; the gateway accepts exactly
    these, so a reset or a deactivation revokes at once."""
    issued_at: Annotated[str, Field(json_schema_extra={"format": "date-time"})] = ""
    """When the current token was issued (a reset or a key rotation issues a new one)."""
    expires_at: Annotated[str, Field(json_schema_extra={"format": "date-time"})] | None = None
    """When it stops being accepted (issuedAt plus spec.tokenLifetime), if it expires."""


#: ``spec.tokenLifetime`` of Users and ExternalServiceConsumers.
TokenLifetime = Annotated[
    str,
    Field(min_length=2, max_length=32),
    Matches(
        DURATION_REGEX,
        "spec.tokenLifetime must be a duration in hours, minutes and seconds such as "
        "720h, 90m or 1h30m",
    ),
]
