"""Caller tokens of Users, ExternalServiceConsumers and JobFamilies (pure).

Each subject's token lives in one Secret it owns (labelled ``racetrack.io/token``); the
subject's ``status.token`` names the Secret and publishes the sha256 of every form of the
token that is valid right now, which is all the gateway ever reads. The Secret is the record
of what was issued (``render.tokensecrets``).

A Secret is *intact* when its values still hash to what was issued, the token verifies with
the current auth key and names this subject, and it answers the subject's current reset
request. Anything else (no Secret, a reset, a rotated key, a hand edit, another subject's
leftover) means a new token: ``plan`` says which and why. An intact token is valid until
``issuedAt + spec.tokenLifetime`` when a lifetime is set; after that its hashes are withdrawn
and a reset issues a new one.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

from racetrack_api import conditions as c
from racetrack_api import labels, tokens
from racetrack_api.durations import parse_duration
from racetrack_api.permissions import SubjectRef
from racetrack_api.v1alpha1.common import Condition, ConditionStatus, TokenStatus
from racetrack_api.v1alpha1.permission import SubjectKind
from racetrack_operator.render.authkey import AuthKey
from racetrack_operator.render.tokensecrets import (
    SUBJECT_TYPES,
    SecretView,
    secret_name,
    secret_namespace,
)

_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


class Why(enum.StrEnum):
    """Why a new token is issued (the ``reason`` label of the issue metric, and the event)."""

    NEW = "new"
    RESET = "reset"
    ROTATION = "rotation"
    REPAIR = "repair"


#: The issues told as events (see ``reconcile.tokens`` for why not the others).
EVENT_REASONS = {Why.RESET: "TokenReset", Why.REPAIR: "TokenRepaired"}
EVENT_REVOKED = "TokenRevoked"
EVENT_EXPIRED = "TokenExpired"


@dataclasses.dataclass(frozen=True)
class TokenSubject:
    """What the token of a User, ESC or JobFamily depends on, read from the object."""

    ref: SubjectRef
    uid: str
    generation: int
    active: bool
    reset: str
    """The value of ``racetrack.io/reset-token-at`` ("" when unset)."""
    lifetime: int | None
    """Seconds a token is accepted for, if it expires."""
    token: TokenStatus | None
    conditions: tuple[Condition, ...]
    deleting: bool
    observed_generation: int = 0

    @property
    def subject_type(self) -> tokens.SubjectType:
        return SUBJECT_TYPES[self.ref.kind]


def token_subject(kind: SubjectKind, body: dict[str, Any]) -> TokenSubject:
    """The subject as its token sees it; bad values the schema let through count as unset."""
    meta: dict[str, Any] = body.get("metadata") or {}
    spec: dict[str, Any] = body.get("spec") or {}
    status: dict[str, Any] = body.get("status") or {}
    lifetime = None
    if spec.get("tokenLifetime"):
        try:
            lifetime = parse_duration(str(spec["tokenLifetime"]))
        except ValueError:
            lifetime = None
    token = TokenStatus.model_validate(status["token"]) if status.get("token") else None
    namespace = None if kind == SubjectKind.USER else meta.get("namespace")
    return TokenSubject(
        ref=SubjectRef(kind, str(meta.get("name")), namespace),
        uid=str(meta.get("uid") or ""),
        generation=int(meta.get("generation") or 0),
        active=bool(spec.get("active")) if kind == SubjectKind.USER else True,
        reset=str((meta.get("annotations") or {}).get(labels.ANNOTATION_RESET_TOKEN_AT) or ""),
        lifetime=lifetime,
        token=token,
        conditions=tuple(Condition.model_validate(cond) for cond in status.get("conditions") or []),
        deleting=bool(meta.get("deletionTimestamp")),
        observed_generation=int(status.get("observedGeneration") or 0),
    )


# -- what to do ----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Plan:
    issue: Why | None
    """Issue a new token (and why); the status then follows from the new Secret."""
    delete_secret: bool
    """Revoke: delete the subject's token Secret (an inactive User)."""
    token: TokenStatus | None
    ready: tuple[ConditionStatus, str, str]
    """(status, reason, message) of the Ready condition."""
    recheck_at: datetime | None = None
    """When the plan changes by itself (the token expires)."""


def plan(
    subject: TokenSubject,
    secret: SecretView | None,
    key: AuthKey | None,
    platform_namespace: str,
    now: datetime,
) -> Plan:
    """What the subject's token needs, from the subject, its Secret and the auth key."""
    namespace = secret_namespace(subject.ref, platform_namespace)
    name = secret_name(subject.ref)
    where = f"Secret {namespace}/{name}"
    if not subject.active:
        ours = secret is not None and secret.owner_uid == subject.uid
        message = "Inactive: no token; an admin sets spec.active: true to issue one."
        return Plan(None, ours, None, ("True", c.REASON_INACTIVE, message))
    if key is None:
        message = (
            f"No auth key to sign tokens with yet (Secret {platform_namespace}/"
            f"{labels.AUTH_KEY_SECRET}); the operator makes one once namespace "
            f"{platform_namespace} exists."
        )
        return Plan(None, False, subject.token, ("False", c.REASON_AUTH_KEY_MISSING, message))
    why = why_new(subject, secret, key)
    if why is not None or secret is None:
        pending = f"Issuing a new token into {where}."
        return Plan(why or Why.NEW, False, subject.token, ("False", c.REASON_TOKEN_ISSUED, pending))
    issued_at = secret.annotations.get(labels.ANNOTATION_ISSUED_AT, "")
    expires = _expiry(issued_at, subject.lifetime)
    expires_at = None if expires is None else expires.strftime(_TIME_FORMAT)
    hashes = [h for h in (secret.token_hash, secret.caller_token_hash) if h is not None]
    if subject.ref.kind != SubjectKind.EXTERNAL_SERVICE_CONSUMER:
        hashes = hashes[:1]
    if expires is not None and now >= expires:
        message = (
            f"The token in {where} expired at {expires_at}; set the annotation "
            f"{labels.ANNOTATION_RESET_TOKEN_AT} to a new value to issue a new one."
        )
        token = TokenStatus(
            secret_name=name,
            secret_namespace=namespace,
            hashes=[],
            issued_at=issued_at,
            expires_at=expires_at,
        )
        return Plan(None, False, token, ("False", c.REASON_TOKEN_EXPIRED, message))
    token = TokenStatus(
        secret_name=name,
        secret_namespace=namespace,
        hashes=hashes,
        issued_at=issued_at,
        expires_at=expires_at,
    )
    message = f"Token issued at {issued_at} in {where}" + (
        f"; it expires at {expires_at}." if expires_at else "."
    )
    return Plan(None, False, token, ("True", c.REASON_TOKEN_ISSUED, message), expires)


def why_new(subject: TokenSubject, secret: SecretView | None, key: AuthKey) -> Why | None:
    """Why the Secret's token cannot stay (None: it is intact)."""
    known = subject.token is not None
    if secret is None or secret.owner_uid != subject.uid:
        # A Secret that vanished, or a leftover of an earlier subject of the same name.
        return Why.REPAIR if known else Why.NEW
    annotations = secret.annotations
    if annotations.get(labels.ANNOTATION_ISSUED_FOR_RESET, "") != subject.reset:
        return Why.RESET
    if annotations.get(labels.ANNOTATION_AUTH_KEY_ID) != key.id:
        return Why.ROTATION
    intact = (
        secret.token_type == subject.subject_type
        and secret.token_hash is not None
        and secret.token_hash == annotations.get(labels.ANNOTATION_TOKEN_HASH)
        and secret.signed_with == key.id
        and secret.claims == (subject.ref.name, subject.subject_type)
    )
    if intact and subject.ref.kind == SubjectKind.EXTERNAL_SERVICE_CONSUMER:
        intact = (
            secret.caller_token_hash is not None
            and secret.caller_token_hash == annotations.get(labels.ANNOTATION_CALLER_TOKEN_HASH)
            and secret.caller_token_matches
        )
    return None if intact else Why.REPAIR


def conflict(where: str) -> tuple[str, str]:
    """Reason and message when the token Secret's name is taken by someone else's Secret."""
    return (
        c.REASON_TOKEN_SECRET_CONFLICT,
        f"{where} exists and is not a token Secret of this subject: delete or rename it, "
        "and the operator issues the token there.",
    )


def newly_expired(subject: TokenSubject, plan_: Plan) -> bool:
    """Whether this plan is the one that withdraws an expired token (worth an event)."""
    if plan_.ready[1] != c.REASON_TOKEN_EXPIRED:
        return False
    ready = c.find(subject.conditions, c.READY)
    return ready is None or ready.reason != c.REASON_TOKEN_EXPIRED


def issued_message(why: Why, secret: SecretView) -> str:
    """The event told when a token is reset or repaired (never the token)."""
    where = f"Secret {secret.namespace}/{secret.name}"
    if why == Why.REPAIR:
        return (
            f"Issued a new token into {where}, which was deleted or edited by hand; "
            "the old token stopped working."
        )
    return f"Issued a new token into {where} as requested; the old one stopped working."


def _expiry(issued_at: str, lifetime: int | None) -> datetime | None:
    if lifetime is None:
        return None
    try:
        issued = datetime.strptime(issued_at, _TIME_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return datetime.fromtimestamp(0, UTC)  # no readable issue time: expired
    return issued + timedelta(seconds=lifetime)


def timestamp(now: datetime) -> str:
    return now.strftime(_TIME_FORMAT)


def status_patch(subject: TokenSubject, plan_: Plan, timestamp_: str) -> dict[str, Any]:
    """The part of the subject's status the token owns, as it should be."""
    status, reason, message = plan_.ready
    conditions = c.set_condition(
        subject.conditions,
        c.READY,
        status,
        reason,
        message,
        subject.generation,
        timestamp_,
    )
    return {
        "observedGeneration": subject.generation,
        "token": None if plan_.token is None else plan_.token.to_wire(),
        "conditions": [cond.to_wire() for cond in conditions],
    }


def current_status(subject: TokenSubject) -> dict[str, Any]:
    """The same part of the status as it is now."""
    return {
        # A family's version sync writes the same generation, so neither undoes the other.
        "observedGeneration": subject.observed_generation,
        "token": None if subject.token is None else subject.token.to_wire(),
        "conditions": [cond.to_wire() for cond in subject.conditions],
    }


def describe(ref: SubjectRef) -> str:
    """``User alice``, ``ExternalServiceConsumer ml/billing``: for logs and events."""
    where = f"{ref.namespace}/" if ref.namespace else ""
    return f"{ref.kind} {where}{ref.name}"


@dataclasses.dataclass(frozen=True)
class FamilyToken:
    """What a Job's pods need of their family's token: where it is, and its revision."""

    secret_name: str
    revision: str
    """Changes with the token, so that the pods roll when it is reset or re-issued."""


def family_token(token: TokenStatus | None) -> FamilyToken | None:
    """The family's token as its Jobs' Deployments mount it, or None while it has none."""
    if token is None or not token.hashes:
        return None
    # A digest of the published hash: a pod tells nothing more than the family's status.
    revision = hashlib.sha256(token.hashes[0].encode()).hexdigest()[:16]
    return FamilyToken(token.secret_name, revision)
