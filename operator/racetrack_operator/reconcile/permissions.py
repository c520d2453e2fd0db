"""Permission status: does the subject exist, does the family, and so is the grant in effect.

A Permission is evaluated when it changes (its kopf handler) and again whenever a subject or
a family it names comes or goes (``presence_changed``, fed by the presence watches): an
index from each subject and family to the Permissions that name them makes that a lookup,
and the Permissions' last seen bodies are kept (slim), so re-evaluating reads nothing. Status
is written only when it changed; a flip of SubjectFound is told as an event.
"""

from __future__ import annotations

import logging
from collections.abc import Hashable
from typing import Any, cast

import pydantic

from racetrack_api import conditions as c
from racetrack_api.permissions import SubjectRef
from racetrack_api.v1alpha1 import API_VERSION, Permission
from racetrack_api.v1alpha1.permission import PermissionStatus, SubjectKind
from racetrack_kube import client, paths
from racetrack_operator import metrics
from racetrack_operator.reconcile.coalesce import Coalescer
from racetrack_operator.reconcile.context import Context
from racetrack_operator.reconcile.identity import slim
from racetrack_operator.reconcile.tokens import subject_path
from racetrack_operator.render import permissions as render
from racetrack_operator.render.diff import merge_patch

log = logging.getLogger(__name__)

Key = tuple[str, str]


async def reconcile_permission(ctx: Context, key: Key, body: dict[str, Any] | None = None) -> None:
    try:
        async with ctx.locks.hold(("permission", key)):
            await _reconcile_locked(ctx, key, body)
    except Exception:
        metrics.ERRORS.labels("Permission").inc()
        metrics.RECONCILES.labels("Permission", "error").inc()
        raise
    metrics.RECONCILES.labels("Permission", "ok").inc()


async def permission_seen(ctx: Context, key: Key, body: dict[str, Any]) -> None:
    """The Permission's watch delivered it: evaluate (and on failure, again later)."""
    await ctx.requeue.attempt(
        ("permission", key),
        lambda: reconcile_permission(ctx, key, body),
        "Evaluating Permission {}/{}".format(*key),
        lambda: reconcile_permission(ctx, key),
    )


def permission_deleted(ctx: Context, key: Key) -> None:
    ctx.requeue.cancel(("permission", key))
    _forget(ctx, key)


def _forget(ctx: Context, key: Key) -> None:
    ids = ctx.identity
    ids.permissions.pop(key, None)
    named = ids.permission_names.pop(key, None)
    if named is None:
        return
    subject, family_key = named
    _unindex(ids.permissions_by_subject, subject, key)
    if family_key is not None:
        _unindex(ids.permissions_by_family, family_key, key)


def _unindex(index: dict[Any, set[Key]], name: Any, key: Key) -> None:
    holder = index.get(name)
    if holder is not None:
        holder.discard(key)
        if not holder:
            del index[name]


def request(ctx: Context, key: Key) -> None:
    """Re-evaluate the Permission soon, in the background."""
    ids = ctx.identity
    if ids.permission_queue is None:

        async def work(queued: Hashable) -> None:
            await reconcile_permission(ctx, cast(Key, queued))

        ids.permission_queue = Coalescer(work, delay=0.05)
    ids.permission_queue.request(key)


def presence_changed(
    ctx: Context, kind: SubjectKind, namespace: str | None, name: str, present: bool
) -> None:
    """A presence watch saw a subject or family come or go: re-evaluate who names it."""
    ids = ctx.identity
    if not ids.presence.observe(kind, namespace, name, present):
        return
    affected: set[Key] = set()
    ref = SubjectRef(kind, name, None if kind == SubjectKind.USER else namespace)
    affected |= ids.permissions_by_subject.get(ref, set())
    if kind == SubjectKind.JOB_FAMILY:
        affected |= ids.permissions_by_family.get((namespace, name), set())
        affected |= ids.permissions_by_family.get((None, name), set())
    for key in affected:
        request(ctx, key)


# -- internals -----------------------------------------------------------------------------


async def _reconcile_locked(ctx: Context, key: Key, body: dict[str, Any] | None) -> None:
    ids = ctx.identity
    namespace, name = key
    if body is None:
        body = ids.permissions.get(key) or await ctx.kube.get(_path(key))
        if body is None:
            permission_deleted(ctx, key)
            return
    kept = slim(body)
    if kept["metadata"].get("deletionTimestamp"):
        return
    try:
        permission = Permission.model_validate(
            {"apiVersion": API_VERSION, "kind": "Permission", **kept}
        )
    except pydantic.ValidationError as error:
        # The CRD admitted it: our models and the CRD disagree. Say so once, do not crash.
        log.warning("Permission %s/%s cannot be read: %s", namespace, name, error.errors()[0])
        return
    platform = ctx.settings.platform_namespace
    subject = render.subject_of(permission, platform)
    family = permission.spec.resource.family
    family_key = (render.family_scope(permission, platform), family) if family else None
    _index(ctx, key, kept, subject, family_key)
    await ids.presence.synced.wait()
    subject_found = await _subject_exists(ctx, subject)
    family_found = None if family_key is None else await _family_exists(ctx, *family_key)
    new = render.permission_status(permission, platform, subject_found, family_found, c.now())
    await _write_status(ctx, key, permission, new)


def _index(
    ctx: Context,
    key: Key,
    kept: dict[str, Any],
    subject: SubjectRef,
    family_key: tuple[str | None, str] | None,
) -> None:
    ids = ctx.identity
    _forget(ctx, key)  # it may have named another subject before
    ids.permissions[key] = kept
    ids.permission_names[key] = (subject, family_key)
    ids.permissions_by_subject.setdefault(subject, set()).add(key)
    if family_key is not None:
        ids.permissions_by_family.setdefault(family_key, set()).add(key)


async def _subject_exists(ctx: Context, ref: SubjectRef) -> bool:
    known = ctx.identity.presence.has_subject(ref)
    if known is not None:
        return known
    # A namespace the operator does not watch: ask (metadata only).
    found = await ctx.kube.get(subject_path(ref), accept=client.PARTIAL_METADATA)
    return found is not None


async def _family_exists(ctx: Context, namespace: str | None, family: str) -> bool:
    known = ctx.identity.presence.has_family(namespace, family)
    if known is not None:
        return known
    assert namespace is not None  # "any namespace" is always answered by the watches
    ref = SubjectRef(SubjectKind.JOB_FAMILY, family, namespace)
    found = await ctx.kube.get(subject_path(ref), accept=client.PARTIAL_METADATA)
    return found is not None


async def _write_status(
    ctx: Context, key: Key, permission: Permission, new: PermissionStatus
) -> None:
    old = permission.status
    patch = merge_patch(old.to_wire(), new.to_wire())
    if patch is None:
        return
    try:
        written = await ctx.kube.merge_patch(f"{_path(key)}/status", {"status": patch})
    except client.ApiError as error:
        if error.status == 404:
            permission_deleted(ctx, key)
            return
        raise
    ctx.identity.permissions[key] = slim(written)
    before = c.find(old.conditions, c.SUBJECT_FOUND)
    after = c.find(new.conditions, c.SUBJECT_FOUND)
    if after is not None and (before is None or before.status != after.status):
        if after.status == "False":
            _post(ctx, permission, "Warning", c.REASON_SUBJECT_NOT_FOUND, after.message)
        elif before is not None:
            _post(ctx, permission, "Normal", c.REASON_SUBJECT_FOUND, after.message)


def _post(ctx: Context, permission: Permission, type_: str, reason: str, message: str) -> None:
    meta = permission.metadata
    ref = {
        "apiVersion": API_VERSION,
        "kind": "Permission",
        "metadata": {key: meta.get(key) for key in ("name", "namespace", "uid")},
    }
    ctx.recorder.post(ref, type_, reason, message)


def _path(key: Key) -> str:
    return paths.racetrack(Permission, *key)
