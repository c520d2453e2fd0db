"""A subject's token Secret: its name and place, what is written into it, and what the
operator keeps of it (pure).

The Secret is the record of what was issued: next to the token (and, for an ESC, the legacy
caller token) it carries the operator's annotations, the hash of each value, the id of the
signing key, when, and for which ``racetrack.io/reset-token-at``. What the operator keeps of
a Secret it watches is a ``SecretView``: digests and verdicts, never a value, so nothing in
its memory or logs can leak a token it did not just issue.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import re
from typing import Any

from racetrack_api import labels, tokens
from racetrack_api.permissions import SubjectRef
from racetrack_api.v1alpha1 import API_VERSION
from racetrack_api.v1alpha1.permission import SubjectKind
from racetrack_operator.render.authkey import AuthKey

SUBJECT_TYPES: dict[SubjectKind, tokens.SubjectType] = {
    SubjectKind.USER: "user",
    SubjectKind.EXTERNAL_SERVICE_CONSUMER: "esc",
    SubjectKind.JOB_FAMILY: "job_family",
}
_SECRET_PREFIX = {
    SubjectKind.USER: "user",
    SubjectKind.EXTERNAL_SERVICE_CONSUMER: "esc",
    SubjectKind.JOB_FAMILY: "family",
}
_LABEL_VALUE = re.compile(r"([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?")


def secret_name(ref: SubjectRef) -> str:
    """``user-alice-token``, ``esc-billing-portal-token``, ``family-adder-token``."""
    name = f"{_SECRET_PREFIX[ref.kind]}-{ref.name}-token"
    if len(name) <= 253:
        return name
    digest = hashlib.sha256(ref.name.encode()).hexdigest()[:10]
    return f"{_SECRET_PREFIX[ref.kind]}-{ref.name[:230]}-{digest}-token"


def secret_namespace(ref: SubjectRef, platform_namespace: str) -> str:
    """A subject's own namespace; Users (cluster-wide) keep theirs in the platform namespace."""
    return ref.namespace or platform_namespace


@dataclasses.dataclass(frozen=True)
class SecretView:
    """A token Secret without its values: their digests, and whether the token verifies."""

    namespace: str
    name: str
    resource_version: str
    owner_uid: str
    """The uid of the object controlling the Secret ("" for none)."""
    owner_name: str
    """The name of that object."""
    token_type: str
    """Its ``racetrack.io/token`` label."""
    annotations: dict[str, str]
    token_hash: str | None
    caller_token_hash: str | None
    signed_with: str | None
    """The id of the auth key the token verified with (checked against the key of the time
    the Secret was seen; a rotation makes every earlier verdict stale, as it should)."""
    claims: tuple[str, str] | None
    """(subject, subject_type) of the verified token."""
    caller_token_matches: bool
    """The legacy caller token names the same ESC and seed as the token."""


def view_secret(body: dict[str, Any], key: AuthKey | None) -> SecretView:
    meta: dict[str, Any] = body.get("metadata") or {}
    data: dict[str, str] = body.get("data") or {}
    token = _text(data.get(labels.TOKEN_KEY))
    caller_token = _text(data.get(labels.LEGACY_TOKEN_KEY))
    signed_with = claims = None
    caller_matches = False
    if token is not None and key is not None:
        try:
            decoded = tokens.decode(token, key.value)
        except tokens.InvalidToken:
            decoded = None
        if decoded is not None:
            signed_with = key.id
            claims = (decoded.subject, str(decoded.subject_type))
            caller_matches = caller_token == tokens.legacy_esc_token(decoded.subject, decoded.seed)
    owner = next((ref for ref in meta.get("ownerReferences") or [] if ref.get("controller")), None)
    return SecretView(
        namespace=str(meta.get("namespace") or ""),
        name=str(meta.get("name") or ""),
        resource_version=str(meta.get("resourceVersion") or ""),
        owner_uid=str((owner or {}).get("uid") or ""),
        owner_name=str((owner or {}).get("name") or ""),
        token_type=str((meta.get("labels") or {}).get(labels.LABEL_TOKEN) or ""),
        annotations={
            key_: str(value)
            for key_, value in (meta.get("annotations") or {}).items()
            if key_.startswith("racetrack.io/")
        },
        token_hash=None if token is None else tokens.token_hash(token),
        caller_token_hash=None if caller_token is None else tokens.token_hash(caller_token),
        signed_with=signed_with,
        claims=claims,
        caller_token_matches=caller_matches,
    )


def _text(encoded: str | None) -> str | None:
    if encoded is None:
        return None
    try:
        return base64.b64decode(encoded, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return ""


@dataclasses.dataclass(frozen=True)
class Issued:
    """Freshly issued values (made by the reconciler: they are random)."""

    token: str = dataclasses.field(repr=False)
    caller_token: str | None = dataclasses.field(default=None, repr=False)


def desired_secret(
    ref: SubjectRef,
    uid: str,
    reset: str,
    issued: Issued,
    key: AuthKey,
    platform_namespace: str,
    issued_at: str,
) -> dict[str, Any]:
    """The token Secret of ``ref`` (whose uid is ``uid``) holding ``issued``, owned by it;
    ``reset`` is the value of the subject's ``racetrack.io/reset-token-at`` it answers."""
    annotations = {
        labels.ANNOTATION_TOKEN_HASH: tokens.token_hash(issued.token),
        labels.ANNOTATION_AUTH_KEY_ID: key.id,
        labels.ANNOTATION_ISSUED_AT: issued_at,
        labels.ANNOTATION_ISSUED_FOR_RESET: reset,
    }
    data = {labels.TOKEN_KEY: _b64(issued.token)}
    if issued.caller_token is not None:
        annotations[labels.ANNOTATION_CALLER_TOKEN_HASH] = tokens.token_hash(issued.caller_token)
        data[labels.LEGACY_TOKEN_KEY] = _b64(issued.caller_token)
    secret_labels = {
        labels.LABEL_TOKEN: SUBJECT_TYPES[ref.kind],
        labels.LABEL_MANAGED_BY: labels.MANAGED_BY,
    }
    if _LABEL_VALUE.fullmatch(ref.name):
        secret_labels[labels.LABEL_SUBJECT] = ref.name
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": {
            "name": secret_name(ref),
            "namespace": secret_namespace(ref, platform_namespace),
            "labels": secret_labels,
            "annotations": annotations,
            # No blockOwnerDeletion: setting it needs the right to update the owner's
            # finalizers wherever OwnerReferencesPermissionEnforcement is on, and nothing
            # has to wait for a token Secret to go.
            "ownerReferences": [
                {
                    "apiVersion": API_VERSION,
                    "kind": str(ref.kind),
                    "name": ref.name,
                    "uid": uid,
                    "controller": True,
                }
            ],
        },
        "data": data,
    }


def _b64(value: str) -> str:
    return base64.b64encode(value.encode()).decode()
