"""The auth key that signs every caller token: its Secret, and when to rotate it (pure).

The key lives in one Secret in the platform namespace (``racetrack-auth-key``, key ``key``).
The operator generates it when absent. Setting the annotation ``racetrack.io/rotate-key-at``
to a new value asks for a new key; the operator answers by writing the new key and copying
that value into ``racetrack.io/rotated-for``, so a rotation is asked for exactly while the
two differ, and an operator restart never rotates twice.

Token Secrets record which key signed them by its *id*, a digest of the key that tells keys
apart without revealing anything of them, so a token signed with an older key is known as
such without decoding it.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
from typing import Any

from racetrack_api import labels


@dataclasses.dataclass(frozen=True)
class AuthKey:
    value: str = dataclasses.field(repr=False)
    """The key itself; never logged (left out of ``repr`` so a logged object cannot show it)."""
    id: str
    """``key_id(value)``: what token Secrets record."""


def key_id(value: str) -> str:
    """A short, stable digest of a key, domain-separated so it is never a token's hash."""
    return hashlib.sha256(b"racetrack.io/auth-key-id\0" + value.encode()).hexdigest()[:16]


def auth_key(secret: dict[str, Any]) -> AuthKey | None:
    """The key held by the auth key Secret, or None when it holds none (or not text).

    A key an admin put there (from a secret manager, a backup) is used as it is."""
    encoded = (secret.get("data") or {}).get(labels.AUTH_KEY_KEY)
    if not encoded:
        return None
    try:
        value = base64.b64decode(encoded, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    return AuthKey(value, key_id(value)) if value else None


def rotation_requested(secret: dict[str, Any]) -> str | None:
    """The ``racetrack.io/rotate-key-at`` value no rotation has answered yet, if any."""
    annotations: dict[str, str] = secret["metadata"].get("annotations") or {}
    wanted = annotations.get(labels.ANNOTATION_ROTATE_KEY_AT)
    if wanted and wanted != annotations.get(labels.ANNOTATION_ROTATED_FOR):
        return wanted
    return None


def desired_key_secret(
    namespace: str,
    value: str,
    created_at: str,
    current: dict[str, Any] | None = None,
    answered: str | None = None,
) -> dict[str, Any]:
    """The auth key Secret holding ``value``; ``current`` is the Secret it replaces (its
    annotations and labels are kept, and its resourceVersion makes the write conditional),
    ``answered`` the rotation request this key answers."""
    meta = (current or {}).get("metadata") or {}
    annotations = {
        **(meta.get("annotations") or {}),
        labels.ANNOTATION_KEY_CREATED_AT: created_at,
    }
    if answered is not None:
        annotations[labels.ANNOTATION_ROTATED_FOR] = answered
    metadata: dict[str, Any] = {
        "name": labels.AUTH_KEY_SECRET,
        "namespace": namespace,
        "labels": {**(meta.get("labels") or {}), labels.LABEL_MANAGED_BY: labels.MANAGED_BY},
        "annotations": annotations,
    }
    if meta.get("resourceVersion"):
        metadata["resourceVersion"] = meta["resourceVersion"]
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": metadata,
        "type": "Opaque",
        "data": {labels.AUTH_KEY_KEY: base64.b64encode(value.encode()).decode()},
    }
