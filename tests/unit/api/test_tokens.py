"""Caller tokens: the original's JWT format, refused when forged, tampered or foreign."""

from __future__ import annotations

import base64
import json
from typing import Any

import jwt
import pytest

from racetrack_api import tokens

KEY = "an-auth-key-for-tests-long-enough-for-hs256"


def _unpad(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _part(document: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(document).encode()).rstrip(b"=").decode()


def test_a_token_round_trips_with_exactly_the_original_claims() -> None:
    token = tokens.issue("alice", "user", KEY)
    header, payload, _ = token.split(".")
    assert json.loads(_unpad(header)) == {"alg": "HS256", "typ": "JWT"}
    claims = json.loads(_unpad(payload))
    assert set(claims) == {"seed", "subject", "subject_type"}
    decoded = tokens.decode(token, KEY)
    assert (decoded.subject, decoded.subject_type, decoded.scopes) == ("alice", "user", None)


def test_every_issue_has_a_new_seed_and_so_a_new_hash() -> None:
    first, second = (
        tokens.issue("adder", "job_family", KEY),
        tokens.issue("adder", "job_family", KEY),
    )
    assert tokens.decode(first, KEY).seed != tokens.decode(second, KEY).seed
    assert tokens.token_hash(first) != tokens.token_hash(second)
    assert len(tokens.token_hash(first)) == 64


def test_scopes_are_carried_when_given() -> None:
    token = tokens.issue("pub", "internal", KEY, scopes=("full_access",))
    assert tokens.decode(token, KEY).scopes == ("full_access",)


def test_tokens_interoperate_with_pyjwt_which_the_originals_clients_use() -> None:
    ours = tokens.issue("billing", "esc", KEY)
    assert jwt.decode(ours, KEY, algorithms=["HS256"])["subject"] == "billing"
    theirs = jwt.encode({"seed": "s1", "subject": "alice", "subject_type": "user"}, KEY)
    assert tokens.decode(theirs, KEY) == tokens.Claims("s1", "alice", "user")


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda t: t + "x", "signature"),
        (lambda t: t.replace(t.split(".")[1], t.split(".")[1][:-2] + "AA"), "JSON|signature"),
        (lambda t: "garbage", "three"),
        (lambda t: "a.b", "three"),
        (lambda t: "!!!.!!!.!!!", "base64"),
    ],
)
def test_tampered_and_garbage_tokens_are_refused(mutate: object, reason: str) -> None:
    token = tokens.issue("alice", "user", KEY)
    with pytest.raises(tokens.InvalidToken, match=reason):
        tokens.decode(mutate(token), KEY)  # type: ignore[operator]


def test_a_token_of_another_key_is_refused() -> None:
    with pytest.raises(tokens.InvalidToken, match="signature"):
        tokens.decode(tokens.issue("alice", "user", "other-key"), KEY)


def test_extra_claims_and_other_algorithms_are_refused() -> None:
    body = tokens.Claims("s", "alice", "user").to_payload() | {"exp": 1}
    header = _part({"alg": "HS256", "typ": "JWT"})
    signed = tokens.encode(tokens.Claims("s", "alice", "user"), KEY)
    forged = f"{header}.{_part(body)}.{signed.split('.')[2]}"
    with pytest.raises(tokens.InvalidToken):
        tokens.decode(forged, KEY)
    none_alg = f"{_part({'alg': 'none'})}.{signed.split('.')[1]}."
    with pytest.raises(tokens.InvalidToken, match="algorithm"):
        tokens.decode(none_alg, KEY)


def test_the_legacy_esc_token_is_base64_of_the_originals_json() -> None:
    legacy = tokens.legacy_esc_token("billing", "k3y")
    assert json.loads(base64.b64decode(legacy)) == {"esc-id": "billing", "api-key": "k3y"}


def test_new_auth_keys_are_long_and_random() -> None:
    first, second = tokens.new_auth_key(), tokens.new_auth_key()
    assert first != second and len(first) >= 40
