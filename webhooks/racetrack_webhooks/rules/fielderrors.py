"""What a rule answers: a field, what is wrong with it and how to fix it.

Shaped like the API server's own ``field.Error`` so a refusal reads like any other
``kubectl apply`` error: the message names the field first, then the rule, then the fix.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

#: HTTP codes a refusal carries, as the API server uses them: 422 Invalid for a field that
#: breaks a rule, 409 Conflict for a clash with another object, 403 Forbidden for a
#: permission, 503 ServiceUnavailable for a temporary refusal (maintenance).
INVALID = 422
CONFLICT = 409
FORBIDDEN = 403
UNAVAILABLE = 503

Severity = Literal["error", "warning"]


@dataclasses.dataclass(frozen=True)
class FieldError:
    field: str
    """The field as the user writes it, e.g. ``spec.email``; ``metadata`` for the object."""
    message: str
    """What is wrong and what to do instead."""
    code: int = INVALID
    severity: Severity = "error"

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


def warning(field: str, message: str) -> FieldError:
    """Admitted, but ``kubectl`` prints it (``Warning: ...``)."""
    return FieldError(field, message, severity="warning")


def errors_only(found: list[FieldError]) -> list[FieldError]:
    return [error for error in found if error.severity == "error"]


def warnings_only(found: list[FieldError]) -> list[FieldError]:
    return [error for error in found if error.severity == "warning"]
