"""Tokens of Users, ExternalServiceConsumers and JobFamilies against the in-memory API: what is
issued, written, revoked and published, and that nothing else is written. The same behaviours
run against a real control plane in tests/integration/identity."""

from __future__ import annotations

import asyncio
import base64
import logging
from pathlib import Path

import pytest
import yaml
from identity_world import (  # type: ignore[import-not-found]
    NS,
    PLATFORM,
    Events,
    drain,
    events,
    fake,
    path,
    put,
    ready,
    secret_path,
    secret_value,
    secret_watch,
    seen,
    status,
    world,
    writes,
)

from fake_kube import FakeKube  # type: ignore[import-not-found]
from racetrack_api import labels
from racetrack_api import tokens as codec
from racetrack_api.permissions import SubjectRef
from racetrack_api.v1alpha1 import Job
from racetrack_api.v1alpha1.permission import SubjectKind
from racetrack_kube import paths
from racetrack_operator.reconcile import authkey, tokens
from racetrack_operator.reconcile.context import Context
from racetrack_operator.settings import Settings

pytestmark = pytest.mark.asyncio
__all__ = ["world"]

ADDER = Path(__file__).resolve().parents[3] / "examples" / "adder.yaml"
USER, ESC, FAMILY = (
    SubjectKind.USER,
    SubjectKind.EXTERNAL_SERVICE_CONSUMER,
    SubjectKind.JOB_FAMILY,
)


def hashes(ctx: Context, kind: SubjectKind, name: str) -> list[str]:
    token = status(ctx, kind, name).get("token") or {}
    return list(token.get("hashes") or [])


async def test_an_esc_gets_a_token_and_caller_token_with_one_write_each(world: Context) -> None:
    put(world, ESC, "billing")
    before = len(fake(world).writes)
    await seen(world, ESC, "billing")
    assert writes(world, before) == [
        f"POST {secret_path(ESC, 'billing')}",
        f"PATCH {path(ESC, 'billing')}/status",
    ]
    token = secret_value(world, ESC, "billing")
    caller = secret_value(world, ESC, "billing", labels.LEGACY_TOKEN_KEY)
    claims = codec.decode(token, world.identity.key.value)  # type: ignore[union-attr]
    assert (claims.subject, claims.subject_type) == ("billing", "esc")
    assert base64.b64decode(caller) == (
        f'{{"esc-id":"billing","api-key":"{claims.seed}"}}'.encode()
    )
    assert hashes(world, ESC, "billing") == [codec.token_hash(token), codec.token_hash(caller)]
    assert status(world, ESC, "billing")["token"]["secretName"] == "esc-billing-token"
    assert ready(world, ESC, "billing") == ("True", "TokenIssued")
    assert events(world).reasons("billing") == []  # Ready tells a first token
    secret = fake(world).obj(secret_path(ESC, "billing"))
    assert (
        secret["metadata"]["ownerReferences"][0]["uid"]
        == (fake(world).obj(path(ESC, "billing"))["metadata"]["uid"])
    )


async def test_the_echo_of_our_writes_and_a_restart_write_nothing(world: Context) -> None:
    put(world, ESC, "billing")
    await seen(world, ESC, "billing")
    secret_watch(world, secret_path(ESC, "billing"))  # the echo of our own Secret write
    before = len(fake(world).writes)
    await seen(world, ESC, "billing")
    await drain(world)
    assert writes(world, before) == []
    # A new process: the same Secret and status, nothing to write.
    restarted = Context(world.kube, world.settings, recorder=events(world))
    assert await authkey.load_key(restarted)
    restarted.identity.secrets_synced.set()
    secret_watch(restarted, secret_path(ESC, "billing"))
    await seen(restarted, ESC, "billing")
    assert writes(world, before) == []


async def test_a_user_has_a_token_only_while_active(world: Context) -> None:
    put(world, USER, "alice", {"email": "alice@example.org"})
    await seen(world, USER, "alice")
    assert secret_path(USER, "alice") not in fake(world).objects
    assert ready(world, USER, "alice") == ("True", "Inactive")
    assert "token" not in status(world, USER, "alice")

    put(world, USER, "alice", {"active": True})
    await seen(world, USER, "alice")
    assert secret_path(USER, "alice").startswith(f"/api/v1/namespaces/{PLATFORM}/")
    token = secret_value(world, USER, "alice")
    assert hashes(world, USER, "alice") == [codec.token_hash(token)]
    assert status(world, USER, "alice")["token"]["secretNamespace"] == PLATFORM

    put(world, USER, "alice", {"active": False})
    await seen(world, USER, "alice")
    assert secret_path(USER, "alice") not in fake(world).objects
    assert "token" not in status(world, USER, "alice")
    assert ready(world, USER, "alice") == ("True", "Inactive")
    assert events(world).reasons("alice") == ["TokenRevoked"]


async def test_a_reset_issues_a_new_token_and_withdraws_the_old_hash(world: Context) -> None:
    put(world, ESC, "billing")
    await seen(world, ESC, "billing")
    old = hashes(world, ESC, "billing")
    put(world, ESC, "billing", annotations={labels.ANNOTATION_RESET_TOKEN_AT: "1"})
    before = len(fake(world).writes)
    await seen(world, ESC, "billing")
    new = hashes(world, ESC, "billing")
    assert set(old).isdisjoint(new) and len(new) == 2
    assert writes(world, before) == [
        f"PUT {secret_path(ESC, 'billing')}",
        f"PATCH {path(ESC, 'billing')}/status",
    ]
    assert events(world).reasons("billing")[-1] == "TokenReset"
    # The same reset value again is no new request.
    await seen(world, ESC, "billing")
    assert hashes(world, ESC, "billing") == new


async def test_a_token_secret_deleted_by_hand_is_issued_anew(world: Context) -> None:
    put(world, ESC, "billing")
    await seen(world, ESC, "billing")
    old = hashes(world, ESC, "billing")
    where = secret_path(ESC, "billing")
    deleted = fake(world).obj(where)
    fake(world).remove(where)
    secret_watch(world, where, deleted=deleted)
    await drain(world)
    assert where in fake(world).objects
    assert set(old).isdisjoint(hashes(world, ESC, "billing"))
    assert events(world).reasons("billing")[-1] == "TokenRepaired"


@pytest.mark.parametrize("edit", ["token", "hash annotation and token", "caller-token"])
async def test_a_token_secret_edited_by_hand_is_issued_anew(world: Context, edit: str) -> None:
    put(world, ESC, "billing")
    await seen(world, ESC, "billing")
    old = hashes(world, ESC, "billing")
    where = secret_path(ESC, "billing")
    forged = "forged-token"
    patch: dict[str, object] = {}
    if edit == "token":
        patch = {"data": {"token": base64.b64encode(forged.encode()).decode()}}
    elif edit == "hash annotation and token":
        # Even a Secret whose annotation matches its edit holds no token signed by the key.
        patch = {
            "data": {"token": base64.b64encode(forged.encode()).decode()},
            "metadata": {"annotations": {labels.ANNOTATION_TOKEN_HASH: codec.token_hash(forged)}},
        }
    else:
        patch = {"data": {"caller-token": base64.b64encode(b"{}").decode()}}
    await fake(world).merge_patch(where, patch)
    secret_watch(world, where)
    await drain(world)
    new = hashes(world, ESC, "billing")
    assert set(old).isdisjoint(new) and codec.token_hash(forged) not in new
    assert secret_value(world, ESC, "billing") != forged


async def test_a_secret_of_that_name_that_is_not_ours_is_left_alone_and_reported(
    world: Context,
) -> None:
    where = secret_path(ESC, "billing")
    fake(world).put(where, {"metadata": {"name": "esc-billing-token"}, "data": {"a": "Yg=="}})
    put(world, ESC, "billing")
    await seen(world, ESC, "billing")
    assert fake(world).obj(where)["data"] == {"a": "Yg=="}
    assert ready(world, ESC, "billing") == ("False", "TokenSecretConflict")
    assert "token" not in status(world, ESC, "billing")


async def test_a_rotation_request_replaces_the_key_and_reissues_every_token(
    world: Context,
) -> None:
    put(world, USER, "alice", {"active": True})
    put(world, ESC, "billing")
    put(world, FAMILY, "adder")
    for kind, name in ((USER, "alice"), (ESC, "billing"), (FAMILY, "adder")):
        await seen(world, kind, name)
    old = {name: hashes(world, kind, name) for kind, name in ((USER, "alice"), (ESC, "billing"))}
    old_key = world.identity.key
    key_path = paths.secrets(PLATFORM, labels.AUTH_KEY_SECRET)
    annotated = await fake(world).merge_patch(
        key_path, {"metadata": {"annotations": {labels.ANNOTATION_ROTATE_KEY_AT: "r1"}}}
    )
    authkey.key_secret_changed(world, annotated)
    await drain(world)
    new_key = world.identity.key
    assert new_key is not None and old_key is not None and new_key.id != old_key.id
    stored = fake(world).obj(key_path)
    assert stored["metadata"]["annotations"][labels.ANNOTATION_ROTATED_FOR] == "r1"
    for kind, name in ((USER, "alice"), (ESC, "billing"), (FAMILY, "adder")):
        token = secret_value(world, kind, name)
        codec.decode(token, new_key.value)  # signed with the new key
        with pytest.raises(codec.InvalidToken):
            codec.decode(token, old_key.value)
        assert hashes(world, kind, name)[0] == codec.token_hash(token)
    for (kind, name), before in zip(((USER, "alice"), (ESC, "billing")), old.values(), strict=True):
        assert set(before).isdisjoint(hashes(world, kind, name))
    # The watch shows the answered request again (or after a restart): no second rotation.
    authkey.key_secret_changed(world, fake(world).obj(key_path))
    await drain(world)
    assert world.identity.key == new_key


async def test_a_deleted_key_secret_is_made_again_and_every_token_reissued(
    world: Context,
) -> None:
    put(world, ESC, "billing")
    await seen(world, ESC, "billing")
    old = hashes(world, ESC, "billing")
    key_path = paths.secrets(PLATFORM, labels.AUTH_KEY_SECRET)
    fake(world).remove(key_path)
    authkey.key_secret_changed(world, None)
    await drain(world)
    assert key_path in fake(world).objects
    assert set(old).isdisjoint(hashes(world, ESC, "billing"))


async def test_without_the_platform_namespace_the_key_waits_and_subjects_say_why(
    world: Context,
) -> None:
    class NoNamespace(type(fake(world))):  # type: ignore[misc]
        async def create(self, collection: str, body: dict[str, object]) -> None:
            from racetrack_kube.client import ApiError

            raise ApiError(404, "Not Found", f"namespaces {PLATFORM} not found")

    ctx = Context(NoNamespace(), world.settings, recorder=events(world))
    assert not await authkey.load_key(ctx)
    ctx.identity.secrets_synced.set()
    put(ctx, ESC, "billing")
    await seen(ctx, ESC, "billing")
    assert ready(ctx, ESC, "billing") == ("False", "AuthKeyMissing")


async def test_an_expired_token_is_withdrawn_and_told(world: Context) -> None:
    put(world, ESC, "billing", {"tokenLifetime": "1s"})
    await seen(world, ESC, "billing")
    assert len(hashes(world, ESC, "billing")) == 2
    assert status(world, ESC, "billing")["token"]["expiresAt"]

    async def withdrawn() -> None:
        while hashes(world, ESC, "billing"):  # noqa: ASYNC110 - the fake API has no events
            await asyncio.sleep(0.05)

    async with asyncio.timeout(10):
        await withdrawn()
    assert ready(world, ESC, "billing") == ("False", "TokenExpired")
    assert events(world).reasons("billing")[-1] == "TokenExpired"
    # A reset issues a new token with a new lifetime.
    put(world, ESC, "billing", {"tokenLifetime": "1h"}, {labels.ANNOTATION_RESET_TOKEN_AT: "1"})
    await seen(world, ESC, "billing")
    assert ready(world, ESC, "billing") == ("True", "TokenIssued")


async def test_a_deleted_subject_is_forgotten(world: Context) -> None:
    put(world, FAMILY, "adder")
    await seen(world, FAMILY, "adder")
    assert (NS, "adder") in world.identity.family_tokens
    tokens.subject_deleted(world, SubjectRef(FAMILY, "adder", NS))
    assert (NS, "adder") not in world.identity.family_tokens
    assert SubjectRef(FAMILY, "adder", NS) not in world.identity.subjects


async def test_no_token_reaches_logs_or_events(
    world: Context, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    put(world, USER, "alice", {"active": True})
    put(world, ESC, "billing")
    issued = []
    for kind, name in ((USER, "alice"), (ESC, "billing")):
        await seen(world, kind, name)
        issued.append(secret_value(world, kind, name))
    issued.append(secret_value(world, ESC, "billing", labels.LEGACY_TOKEN_KEY))
    assert world.identity.key is not None
    issued.append(world.identity.key.value)
    told = caplog.text + repr(events(world).posted) + repr(world.identity.secrets)
    for secret in issued:
        assert secret not in told
    assert "Issued a token (new) for User alice." in caplog.text


async def test_the_token_status_of_a_family_survives_its_version_syncs(world: Context) -> None:
    from racetrack_operator.reconcile.family import sync_family

    put(world, FAMILY, "adder")
    await seen(world, FAMILY, "adder")
    token = status(world, FAMILY, "adder")["token"]
    job = yaml.safe_load(ADDER.read_text())
    fake(world).put(paths.racetrack(Job, NS, job["metadata"]["name"]), job)
    await sync_family(world, NS, "adder")
    synced = status(world, FAMILY, "adder")
    assert synced["token"] == token
    assert [v["version"] for v in synced["versions"]] == ["1.0.0"]
    assert [c["type"] for c in synced["conditions"]] == ["Ready"]


def just_started(identity_wait_seconds: float) -> Context:
    """An operator that has neither read its auth key nor listed the token Secrets yet."""
    settings = Settings(family_sync_seconds=0.0, identity_wait_seconds=identity_wait_seconds)
    return Context(FakeKube(), settings, recorder=Events())


async def test_a_job_deployed_just_after_start_waits_for_its_familys_token() -> None:
    ctx = just_started(identity_wait_seconds=30)
    try:
        put(ctx, FAMILY, "adder")
        asked = asyncio.create_task(tokens.family_token(ctx, NS, "adder", "adder-v1-0-0"))
        await asyncio.sleep(0.05)
        assert not asked.done()  # no Deployment without AUTH_TOKEN, to be rolled again soon
        assert await authkey.load_key(ctx)
        ctx.identity.secrets_synced.set()
        ctx.identity.presence.synced.set()
        token = await asyncio.wait_for(asked, 5)
        assert token is not None
        assert token.secret_name == secret_path(FAMILY, "adder").rsplit("/", 1)[-1]
    finally:
        ctx.identity.cancel()
        ctx.requeue.cancel_all()


async def test_a_job_waits_for_the_token_only_so_long() -> None:
    ctx = just_started(identity_wait_seconds=0.05)
    try:
        put(ctx, FAMILY, "adder")
        assert await tokens.family_token(ctx, NS, "adder", "adder-v1-0-0") is None
    finally:
        ctx.identity.cancel()
        ctx.requeue.cancel_all()
