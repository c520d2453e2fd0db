"""Caller tokens: what a subject's token Secret holds, when a new token is due, and what status
publishes (the pure half of ``reconcile.tokens``)."""

from __future__ import annotations

import base64
import dataclasses
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from racetrack_api import conditions as c
from racetrack_api import labels
from racetrack_api import tokens as codec
from racetrack_api.permissions import SubjectRef
from racetrack_api.v1alpha1.common import TokenStatus
from racetrack_api.v1alpha1.permission import SubjectKind
from racetrack_operator.render import tokens, tokensecrets
from racetrack_operator.render.authkey import AuthKey, key_id

KEY = AuthKey("k" * 43, key_id("k" * 43))
OTHER_KEY = AuthKey("o" * 43, key_id("o" * 43))
PLATFORM = "racetrack-system"
NOW = datetime(2026, 12, 1, 12, 0, 0, tzinfo=UTC)
UID = "0b5e4c1a-0000-4000-8000-00000000000a"


def subject_body(kind: SubjectKind, **overrides: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": "billing", "uid": UID, "generation": 3}
    if kind != SubjectKind.USER:
        meta["namespace"] = "ml"
    meta.update(overrides.pop("metadata", {}))
    return {"metadata": meta, "spec": overrides.pop("spec", {}), "status": overrides}


def subject(kind: SubjectKind = SubjectKind.EXTERNAL_SERVICE_CONSUMER, **kw: Any) -> Any:
    return tokens.token_subject(kind, subject_body(kind, **kw))


def issued_secret(
    who: tokens.TokenSubject, key: AuthKey = KEY, issued_at: str = "2026-12-01T11:00:00Z"
) -> dict[str, Any]:
    seed = codec.new_seed()
    token = codec.encode(codec.Claims(seed, who.ref.name, who.subject_type), key.value)
    caller = (
        codec.legacy_esc_token(who.ref.name, seed)
        if who.ref.kind == SubjectKind.EXTERNAL_SERVICE_CONSUMER
        else None
    )
    body = tokensecrets.desired_secret(
        who.ref, who.uid, who.reset, tokensecrets.Issued(token, caller), key, PLATFORM, issued_at
    )
    body["metadata"]["resourceVersion"] = "7"
    return body


def view(who: tokens.TokenSubject, key: AuthKey = KEY) -> tokensecrets.SecretView:
    return tokensecrets.view_secret(issued_secret(who, key), key)


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


# -- reading subjects --------------------------------------------------------------------


def test_users_are_inactive_until_an_admin_activates_them_and_others_always_active() -> None:
    assert subject(SubjectKind.USER).active is False
    assert subject(SubjectKind.USER, spec={"active": True}).active is True
    assert subject(SubjectKind.EXTERNAL_SERVICE_CONSUMER).active is True
    assert subject(SubjectKind.JOB_FAMILY).active is True


def test_a_subject_reads_its_reset_request_lifetime_and_published_token() -> None:
    published = {"secretName": "esc-billing-token", "hashes": ["ab"], "issuedAt": "x"}
    who = subject(
        metadata={"annotations": {labels.ANNOTATION_RESET_TOKEN_AT: "2"}},
        spec={"tokenLifetime": "1h30m"},
        token=published,
    )
    assert who.ref == SubjectRef(SubjectKind.EXTERNAL_SERVICE_CONSUMER, "billing", "ml")
    assert (who.reset, who.lifetime, who.generation, who.uid) == ("2", 5400, 3, UID)
    assert who.token is not None and who.token.hashes == ["ab"]
    assert subject(spec={"tokenLifetime": "soon"}).lifetime is None


def test_users_are_cluster_wide_so_their_token_lives_in_the_platform_namespace() -> None:
    user = subject(SubjectKind.USER)
    assert user.ref.namespace is None
    assert tokensecrets.secret_namespace(user.ref, PLATFORM) == PLATFORM
    assert tokensecrets.secret_name(user.ref) == "user-billing-token"
    esc = subject()
    assert tokensecrets.secret_namespace(esc.ref, PLATFORM) == "ml"
    assert tokensecrets.secret_name(esc.ref) == "esc-billing-token"
    family = SubjectRef(SubjectKind.JOB_FAMILY, "adder", "ml")
    assert tokensecrets.secret_name(family) == "family-adder-token"


def test_long_names_still_make_a_valid_and_distinct_secret_name() -> None:
    first = SubjectRef(SubjectKind.USER, "a" * 250 + ".x")
    second = SubjectRef(SubjectKind.USER, "a" * 250 + ".y")
    assert len(tokensecrets.secret_name(first)) <= 253
    assert tokensecrets.secret_name(first) != tokensecrets.secret_name(second)


# -- the Secret ---------------------------------------------------------------------------


def test_the_secret_holds_the_token_owned_by_the_subject_and_says_what_was_issued() -> None:
    who = subject()
    seed = codec.new_seed()
    token = codec.encode(codec.Claims(seed, "billing", "esc"), KEY.value)
    caller = codec.legacy_esc_token("billing", seed)
    body = tokensecrets.desired_secret(
        who.ref, UID, "", tokensecrets.Issued(token, caller), KEY, PLATFORM, "2026-12-01T12:00:00Z"
    )
    meta = body["metadata"]
    assert (meta["name"], meta["namespace"]) == ("esc-billing-token", "ml")
    assert meta["labels"][labels.LABEL_TOKEN] == "esc"
    assert meta["labels"][labels.LABEL_SUBJECT] == "billing"
    assert meta["ownerReferences"] == [
        {
            "apiVersion": "racetrack.io/v1alpha1",
            "kind": "ExternalServiceConsumer",
            "name": "billing",
            "uid": UID,
            "controller": True,
        }
    ]
    assert base64.b64decode(body["data"]["token"]).decode() == token
    assert json.loads(base64.b64decode(base64.b64decode(body["data"]["caller-token"]))) == {
        "esc-id": "billing",
        "api-key": seed,
    }
    annotations = meta["annotations"]
    assert annotations[labels.ANNOTATION_TOKEN_HASH] == codec.token_hash(token)
    assert annotations[labels.ANNOTATION_CALLER_TOKEN_HASH] == codec.token_hash(caller)
    assert annotations[labels.ANNOTATION_AUTH_KEY_ID] == KEY.id
    # Nothing but the data holds a secret.
    assert token not in json.dumps(meta) and caller not in json.dumps(meta)


def test_a_subject_name_too_long_for_a_label_is_left_out_of_the_labels() -> None:
    who = tokens.token_subject(
        SubjectKind.USER, {"metadata": {"name": "a" * 70, "uid": UID}, "spec": {}}
    )
    body = tokensecrets.desired_secret(
        who.ref, UID, "", tokensecrets.Issued("t"), KEY, PLATFORM, "x"
    )
    assert labels.LABEL_SUBJECT not in body["metadata"]["labels"]


def test_the_view_of_a_secret_keeps_digests_and_verdicts_never_values() -> None:
    who = subject()
    body = issued_secret(who)
    seen = tokensecrets.view_secret(body, KEY)
    token = base64.b64decode(body["data"]["token"]).decode()
    assert seen.token_hash == codec.token_hash(token)
    assert seen.signed_with == KEY.id
    assert seen.claims == ("billing", "esc")
    assert seen.caller_token_matches
    assert (seen.owner_uid, seen.owner_name, seen.resource_version) == (UID, "billing", "7")
    assert token not in repr(seen)
    # With another key the same Secret does not verify.
    assert tokensecrets.view_secret(body, OTHER_KEY).signed_with is None


def test_the_view_of_garbage_is_a_view_that_verifies_nothing() -> None:
    who = subject()
    body = issued_secret(who)
    body["data"] = {"token": "%%%not base64", "caller-token": b64("{}")}
    seen = tokensecrets.view_secret(body, KEY)
    assert seen.signed_with is None and seen.claims is None and not seen.caller_token_matches


# -- the plan ------------------------------------------------------------------------------


def test_an_inactive_user_has_no_token_and_its_own_secret_is_deleted() -> None:
    user = subject(SubjectKind.USER)
    nothing = tokens.plan(user, None, KEY, PLATFORM, NOW)
    assert (nothing.issue, nothing.delete_secret, nothing.token) == (None, False, None)
    assert nothing.ready[:2] == ("True", c.REASON_INACTIVE)
    active = subject(SubjectKind.USER, spec={"active": True})
    revoke = tokens.plan(user, view(active), KEY, PLATFORM, NOW)
    assert revoke.delete_secret and revoke.token is None


def test_an_inactive_user_never_deletes_a_secret_it_does_not_own() -> None:
    user = subject(SubjectKind.USER)
    stranger = dataclasses.replace(view(subject(SubjectKind.USER)), owner_uid="another")
    assert not tokens.plan(user, stranger, KEY, PLATFORM, NOW).delete_secret


def test_without_an_auth_key_nothing_is_issued_and_what_is_published_stays() -> None:
    published = TokenStatus(secret_name="esc-billing-token", hashes=["ab"])
    who = subject(token=published.to_wire())
    waiting = tokens.plan(who, None, None, PLATFORM, NOW)
    assert waiting.issue is None and waiting.token == published
    assert waiting.ready[:2] == ("False", c.REASON_AUTH_KEY_MISSING)
    assert f"{PLATFORM}/{labels.AUTH_KEY_SECRET}" in waiting.ready[2]


def _published(who: tokens.TokenSubject) -> dict[str, Any]:
    return TokenStatus(secret_name=tokensecrets.secret_name(who.ref), hashes=["x"]).to_wire()


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ("no secret, never issued", tokens.Why.NEW),
        ("no secret, issued before", tokens.Why.REPAIR),
        ("another subject's leftover", tokens.Why.REPAIR),
        ("reset requested", tokens.Why.RESET),
        ("key rotated", tokens.Why.ROTATION),
        ("token edited", tokens.Why.REPAIR),
        ("caller token edited", tokens.Why.REPAIR),
        ("token signed for someone else", tokens.Why.REPAIR),
        ("label changed", tokens.Why.REPAIR),
    ],
)
def test_a_new_token_is_issued_whenever_the_secret_is_not_intact(
    change: str, why: tokens.Why
) -> None:
    who = subject(token=_published(subject()))
    secret: tokensecrets.SecretView | None = view(who)
    key = KEY
    if change == "no secret, never issued":
        who, secret = subject(), None
    elif change == "no secret, issued before":
        secret = None
    elif change == "another subject's leftover":
        assert secret is not None
        secret = dataclasses.replace(secret, owner_uid="the-deleted-one")
    elif change == "reset requested":
        who = subject(
            token=_published(who), metadata={"annotations": {labels.ANNOTATION_RESET_TOKEN_AT: "1"}}
        )
    elif change == "key rotated":
        key = OTHER_KEY
    elif change == "token edited":
        assert secret is not None
        secret = dataclasses.replace(secret, token_hash=codec.token_hash("edited"))
    elif change == "caller token edited":
        assert secret is not None
        secret = dataclasses.replace(secret, caller_token_matches=False)
    elif change == "token signed for someone else":
        assert secret is not None
        secret = dataclasses.replace(secret, claims=("someone-else", "esc"))
    elif change == "label changed":
        assert secret is not None
        secret = dataclasses.replace(secret, token_type="user")
    planned = tokens.plan(who, secret, key, PLATFORM, NOW)
    assert planned.issue == why
    assert planned.ready[0] == "False"


def test_an_intact_secret_publishes_every_form_of_the_token_and_nothing_is_issued() -> None:
    who = subject()
    seen = view(who)
    planned = tokens.plan(who, seen, KEY, PLATFORM, NOW)
    assert planned.issue is None and not planned.delete_secret
    assert planned.token == TokenStatus(
        secret_name="esc-billing-token",
        secret_namespace="ml",
        hashes=[seen.token_hash, seen.caller_token_hash],
        issued_at="2026-12-01T11:00:00Z",
    )
    assert planned.ready[:2] == ("True", c.REASON_TOKEN_ISSUED)
    assert "Secret ml/esc-billing-token" in planned.ready[2]
    assert planned.recheck_at is None


def test_users_and_families_publish_only_the_jwt() -> None:
    for kind in (SubjectKind.USER, SubjectKind.JOB_FAMILY):
        who = subject(kind, spec={"active": True})
        planned = tokens.plan(who, view(who), KEY, PLATFORM, NOW)
        assert planned.token is not None and len(planned.token.hashes) == 1


def test_a_token_with_a_lifetime_expires_on_time_and_its_hashes_are_withdrawn() -> None:
    who = subject(spec={"tokenLifetime": "2h"})
    seen = view(who)  # issued 11:00
    valid = tokens.plan(who, seen, KEY, PLATFORM, NOW)
    assert valid.token is not None and valid.token.expires_at == "2026-12-01T13:00:00Z"
    assert valid.recheck_at == datetime(2026, 12, 1, 13, 0, 0, tzinfo=UTC)
    later = tokens.plan(who, seen, KEY, PLATFORM, NOW + timedelta(hours=1))
    assert later.issue is None and later.token is not None and later.token.hashes == []
    assert later.ready[:2] == ("False", c.REASON_TOKEN_EXPIRED)
    assert labels.ANNOTATION_RESET_TOKEN_AT in later.ready[2]
    # A shorter lifetime applies to the current token too.
    shorter = subject(spec={"tokenLifetime": "30m"})
    assert tokens.plan(shorter, seen, KEY, PLATFORM, NOW).ready[1] == c.REASON_TOKEN_EXPIRED


def test_only_the_plan_that_withdraws_an_expired_token_is_news() -> None:
    who = subject(spec={"tokenLifetime": "1m"})
    expired = tokens.plan(who, view(who), KEY, PLATFORM, NOW)
    assert tokens.newly_expired(who, expired)
    written = tokens.status_patch(who, expired, "t")
    again = subject(spec={"tokenLifetime": "1m"}, conditions=written["conditions"])
    assert not tokens.newly_expired(again, expired)


# -- status --------------------------------------------------------------------------------


def test_status_says_where_the_token_is_and_a_repeat_changes_nothing() -> None:
    who = subject()
    planned = tokens.plan(who, view(who), KEY, PLATFORM, NOW)
    patch = tokens.status_patch(who, planned, "2026-12-01T12:00:00Z")
    assert patch["observedGeneration"] == 3
    assert patch["token"]["secretName"] == "esc-billing-token"
    (ready,) = patch["conditions"]
    assert (ready["type"], ready["status"], ready["reason"]) == ("Ready", "True", "TokenIssued")
    settled = subject(**patch)
    assert tokens.current_status(settled) == tokens.status_patch(settled, planned, "later")


def test_a_spec_change_alone_moves_observed_generation() -> None:
    who = subject()
    planned = tokens.plan(who, view(who), KEY, PLATFORM, NOW)
    written = tokens.status_patch(who, planned, "t")
    later = subject(metadata={"generation": 4}, **{**written, "observedGeneration": 3})
    assert tokens.current_status(later)["observedGeneration"] == 3
    assert tokens.status_patch(later, planned, "t")["observedGeneration"] == 4


def test_a_familys_pods_get_a_revision_that_changes_with_its_token() -> None:
    first = TokenStatus(secret_name="family-adder-token", hashes=["a" * 64])
    second = TokenStatus(secret_name="family-adder-token", hashes=["b" * 64])
    one, two = tokens.family_token(first), tokens.family_token(second)
    assert one is not None and two is not None
    assert one.secret_name == "family-adder-token" and one.revision != two.revision
    assert "a" * 16 not in one.revision  # not the published hash itself
    assert tokens.family_token(None) is None
    assert tokens.family_token(TokenStatus(secret_name="x", hashes=[])) is None


def test_messages_name_the_secret_and_never_hold_a_token() -> None:
    who = subject()
    seen = view(who)
    for why in tokens.EVENT_REASONS:
        message = tokens.issued_message(why, seen)
        assert "Secret ml/esc-billing-token" in message
    reason, message = tokens.conflict("Secret ml/esc-billing-token")
    assert reason == c.REASON_TOKEN_SECRET_CONFLICT and "delete or rename it" in message
    assert tokens.describe(who.ref) == "ExternalServiceConsumer ml/billing"
