"""Caller tokens in the original Racetrack's format: a JWT signed with HS256 by the auth key.

The payload carries exactly ``seed`` (random, new on every issue), ``subject`` (a user name,
an ESC name or a job family name), ``subject_type`` (``user``, ``esc``, ``job_family`` or
``internal``) and, optionally, ``scopes``, so a client of the original reads our tokens by the
same rules. A token is *valid* only while its subject exists and is active and its seed is
the one last issued: the operator publishes ``sha256(token)`` of every valid token (see
``token_hash``) and the gateway accepts exactly those, so a reset or a deactivation revokes
the old token at once, and nobody outside the Secrets ever holds a plaintext token.

The legacy ESC caller token (base64 of ``{"esc-id": ..., "api-key": ...}``) is still
accepted by the gateway when its hash is published; ``legacy_esc_token`` makes it.

Only the standard library is used: HS256 is an HMAC, and a JWT three base64url parts.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import hmac
import json
import secrets
from typing import Any, Final, Literal

SubjectType = Literal["user", "esc", "job_family", "internal"]
SUBJECT_TYPES: Final = ("user", "esc", "job_family", "internal")
_HEADER: Final = {"alg": "HS256", "typ": "JWT"}
_CLAIMS: Final = frozenset({"seed", "subject", "subject_type", "scopes"})
#: Bytes of a freshly generated auth key (256 bits, the HS256 block's worth of entropy).
AUTH_KEY_BYTES: Final = 32


class InvalidToken(ValueError):
    """A token that is not one of ours: malformed, forged, or signed with another key."""


@dataclasses.dataclass(frozen=True)
class Claims:
    seed: str
    subject: str
    subject_type: SubjectType
    scopes: tuple[str, ...] | None = None

    def to_payload(self) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "seed": self.seed,
            "subject": self.subject,
            "subject_type": self.subject_type,
        }
        if self.scopes is not None:
            payload["scopes"] = list(self.scopes)
        return payload


def new_auth_key() -> str:
    """A random auth key, as text (what the auth key Secret stores)."""
    return secrets.token_urlsafe(AUTH_KEY_BYTES)


def new_seed() -> str:
    return secrets.token_hex(16)


def issue(
    subject: str, subject_type: SubjectType, key: str, scopes: tuple[str, ...] | None = None
) -> str:
    """A new token for ``subject`` with a fresh seed."""
    return encode(Claims(new_seed(), subject, subject_type, scopes), key)


def encode(claims: Claims, key: str) -> str:
    header = _b64(json.dumps(_HEADER, separators=(",", ":")).encode())
    payload = _b64(json.dumps(claims.to_payload(), separators=(",", ":")).encode())
    signing_input = f"{header}.{payload}".encode()
    return f"{header}.{payload}.{_b64(_sign(signing_input, key))}"


def decode(token: str, key: str) -> Claims:
    """The claims of a token signed with ``key``; ``InvalidToken`` with the reason otherwise."""
    parts = token.split(".")
    if len(parts) != 3:
        raise InvalidToken("not a JWT: expected three dot-separated parts")
    header, payload, signature = (_unb64(part) for part in parts)
    try:
        header_json = json.loads(header)
        claims = json.loads(payload)
    except ValueError:
        raise InvalidToken("not a JWT: header or payload is not JSON") from None
    if header_json.get("alg") != "HS256":
        raise InvalidToken(f"unsupported signing algorithm {header_json.get('alg')!r}")
    expected = _sign(f"{parts[0]}.{parts[1]}".encode(), key)
    if not hmac.compare_digest(expected, signature):
        raise InvalidToken("signature does not match the auth key")
    return _claims(claims)


def token_hash(token: str) -> str:
    """What the operator publishes and the gateway looks up: sha256 of the token, hex."""
    return hashlib.sha256(token.encode()).hexdigest()


def legacy_esc_token(esc_id: str, api_key: str) -> str:
    """The original's ESC caller token: base64 of a JSON object, readable by ``base64 -d``
    (so it is transported like a password, never shown in status or logs)."""
    document = json.dumps({"esc-id": esc_id, "api-key": api_key}, separators=(",", ":"))
    return base64.b64encode(document.encode()).decode()


def _claims(raw: Any) -> Claims:
    if not isinstance(raw, dict):
        raise InvalidToken("payload is not a JSON object")
    extra = set(raw) - _CLAIMS
    if extra:
        raise InvalidToken(f"unexpected claims: {', '.join(sorted(extra))}")
    seed, subject, subject_type = raw.get("seed"), raw.get("subject"), raw.get("subject_type")
    if not isinstance(seed, str) or not seed:
        raise InvalidToken("claim seed is missing")
    if not isinstance(subject, str) or not subject:
        raise InvalidToken("claim subject is missing")
    if subject_type not in SUBJECT_TYPES:
        raise InvalidToken(f"claim subject_type must be one of {', '.join(SUBJECT_TYPES)}")
    scopes = raw.get("scopes")
    if scopes is not None and not (
        isinstance(scopes, list) and all(isinstance(scope, str) for scope in scopes)
    ):
        raise InvalidToken("claim scopes must be a list of strings")
    return Claims(seed, subject, subject_type, tuple(scopes) if scopes is not None else None)


def _sign(data: bytes, key: str) -> bytes:
    return hmac.new(key.encode(), data, hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(part: str) -> bytes:
    try:
        return base64.b64decode(part + "=" * (-len(part) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        raise InvalidToken("not a JWT: a part is not base64url") from None
