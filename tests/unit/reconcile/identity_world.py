"""An identity world for the reconcile tests: the in-memory API with an auth key, the watches
stood in for by direct calls, and helpers to apply subjects as kubectl would (imported by the
tests as ``identity_world``; it is no test module itself)."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest_asyncio

from fake_kube import FakeKube  # type: ignore[import-not-found]
from racetrack_api import labels
from racetrack_api.permissions import SubjectRef
from racetrack_api.v1alpha1 import ExternalServiceConsumer, JobFamily, Permission, User
from racetrack_api.v1alpha1.permission import SubjectKind
from racetrack_kube import paths
from racetrack_operator.reconcile import authkey, tokens
from racetrack_operator.reconcile.context import Context
from racetrack_operator.render.tokensecrets import secret_name, secret_namespace, view_secret
from racetrack_operator.settings import Settings

PLATFORM = "racetrack-system"
NS = "ml"
MODELS = {
    SubjectKind.USER: User,
    SubjectKind.EXTERNAL_SERVICE_CONSUMER: ExternalServiceConsumer,
    SubjectKind.JOB_FAMILY: JobFamily,
}


class Events:
    def __init__(self) -> None:
        self.posted: list[tuple[str, str, str, str]] = []

    def post(self, ref: dict[str, Any], type_: str, reason: str, message: str) -> None:
        self.posted.append((str(ref["metadata"]["name"]), type_, reason, message))

    def reasons(self, name: str | None = None) -> list[str]:
        return [reason for who, _, reason, _ in self.posted if name in (None, who)]


@pytest_asyncio.fixture
async def world() -> AsyncIterator[Context]:
    """A Context with the auth key loaded and every watch listed (of an empty cluster)."""
    settings = Settings(family_sync_seconds=0.0, stalled_retry_seconds=0.05)
    ctx = Context(FakeKube(), settings, recorder=Events())
    assert await authkey.load_key(ctx)
    ctx.identity.secrets_synced.set()
    ctx.identity.presence.synced.set()
    yield ctx
    ctx.identity.cancel()
    ctx.requeue.cancel_all()
    if ctx.family_syncs is not None:
        ctx.family_syncs.cancel()


def fake(ctx: Context) -> FakeKube:
    assert isinstance(ctx.kube, FakeKube)
    return ctx.kube


def events(ctx: Context) -> Events:
    assert isinstance(ctx.recorder, Events)
    return ctx.recorder


def ref(kind: SubjectKind, name: str) -> SubjectRef:
    return SubjectRef(kind, name, None if kind == SubjectKind.USER else NS)


def path(kind: SubjectKind, name: str) -> str:
    return paths.racetrack(MODELS[kind], None if kind == SubjectKind.USER else NS, name)


def put(
    ctx: Context,
    kind: SubjectKind,
    name: str,
    spec: dict[str, Any] | None = None,
    annotations: dict[str, str] | None = None,
) -> dict[str, Any]:
    """``kubectl apply`` of a subject (create or update its spec and annotations)."""
    where = path(kind, name)
    store = fake(ctx)
    if where in store.objects:
        body = store.obj(where)
        body["spec"] = spec or {}
        body["metadata"]["annotations"] = annotations or {}
        body["metadata"]["generation"] += 1
        stored: dict[str, Any] = store.put(where, body)
        return stored
    body = {
        "apiVersion": "racetrack.io/v1alpha1",
        "kind": str(kind),
        "metadata": {"name": name, "annotations": annotations or {}},
        "spec": spec or {},
    }
    created: dict[str, Any] = store.put(where, body)
    return created


async def seen(ctx: Context, kind: SubjectKind, name: str) -> None:
    """The subject's watch delivers it as stored (what the kopf handlers do)."""
    body = fake(ctx).obj(path(kind, name))
    if kind == SubjectKind.USER:
        from racetrack_operator.reconcile.grants import user_seen

        await user_seen(ctx, body)
    else:
        await tokens.subject_seen(ctx, ref(kind, name), body)


async def drain(ctx: Context) -> None:
    """Let background work (re-issues, re-evaluations) finish."""
    ids = ctx.identity
    for _ in range(5):
        for queue in (ids.key_queue, ids.subject_queue, ids.permission_queue):
            if queue is not None:
                await queue.drain()
        await asyncio.sleep(0)


def status(ctx: Context, kind: SubjectKind, name: str) -> dict[str, Any]:
    found: dict[str, Any] = fake(ctx).obj(path(kind, name)).get("status") or {}
    return found


def ready(ctx: Context, kind: SubjectKind, name: str) -> tuple[str, str]:
    for cond in status(ctx, kind, name).get("conditions") or []:
        if cond["type"] == "Ready":
            return cond["status"], cond["reason"]
    raise AssertionError("no Ready condition")


def secret_path(kind: SubjectKind, name: str) -> str:
    subject = ref(kind, name)
    return paths.secrets(secret_namespace(subject, PLATFORM), secret_name(subject))


def secret_value(ctx: Context, kind: SubjectKind, name: str, key: str = labels.TOKEN_KEY) -> str:
    data = fake(ctx).obj(secret_path(kind, name))["data"]
    return base64.b64decode(data[key]).decode()


def secret_watch(ctx: Context, where: str, deleted: dict[str, Any] | None = None) -> None:
    """The token Secret watch reports the Secret at ``where`` (``deleted``: its last state)."""
    key = ctx.identity.key
    if deleted is not None:
        tokens.secret_changed(ctx, None, view_secret(deleted, key))
    else:
        tokens.secret_changed(ctx, view_secret(fake(ctx).obj(where), key), None)


def writes(ctx: Context, since: int, keep: Callable[[str], bool] = lambda _: True) -> list[str]:
    return [f"{m} {p}" for m, p in fake(ctx).writes[since:] if keep(p)]


def permission_path(namespace: str, name: str) -> str:
    return paths.racetrack(Permission, namespace, name)
