"""The auth key: made when absent, rotated on request, and every token re-issued when it changes.

At start the operator reads the key Secret in the platform namespace and creates it with a
new random key when absent (or holding no key). A watch of that one Secret then brings
rotation requests (``racetrack.io/rotate-key-at``, set by ``racetrack auth rotate-key`` or by
hand) and hand edits; whenever the key in use changes, every known subject is reconciled,
and since their Secrets record the id of the key that signed them, each gets a new token.

The key itself is only ever in the Secret and in this process's memory: logs and events
name the Secret and the annotation, never the key.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Hashable
from typing import Any

from racetrack_api import conditions as c
from racetrack_api import labels, tokens
from racetrack_kube import client, paths
from racetrack_operator import metrics
from racetrack_operator.reconcile.coalesce import Coalescer
from racetrack_operator.reconcile.context import Context
from racetrack_operator.reconcile.tokens import reissue_all
from racetrack_operator.render.authkey import auth_key, desired_key_secret, rotation_requested

log = logging.getLogger(__name__)

#: How often to try again to make the key while the platform namespace is missing.
RETRY_SECONDS = 10.0


def key_path(ctx: Context) -> str:
    return paths.secrets(ctx.settings.platform_namespace, labels.AUTH_KEY_SECRET)


async def load_key(ctx: Context) -> bool:
    """Read or make the key (one attempt); whether the operator now has one."""
    ids = ctx.identity
    try:
        current = await ctx.kube.get(key_path(ctx))
        if current is None:
            current = await _create(ctx)
        await key_seen(ctx, current)
    except Exception as error:  # whatever it is, tokens wait and Jobs go on
        namespace = ctx.settings.platform_namespace
        status = error.status if isinstance(error, client.ApiError) else None
        fix = {
            404: f"create namespace {namespace} (or set RACETRACK_PLATFORM_NAMESPACE to one)",
            403: f"allow the operator to get and create Secrets in namespace {namespace}",
        }.get(status or 0, "see the error")
        log.error(
            "Could not read or create the auth key Secret %s/%s (%s): %s; no token is issued "
            "until then, retrying every %.0f s.",
            namespace,
            labels.AUTH_KEY_SECRET,
            f"HTTP {status}" if status else type(error).__name__,
            fix,
            RETRY_SECONDS,
        )
        return False
    finally:
        ids.key_loaded.set()
    return ids.key is not None


async def keep_loading(ctx: Context) -> None:
    """Until a key is loaded (the platform namespace may be created later)."""
    while ctx.identity.key is None:
        await asyncio.sleep(RETRY_SECONDS)
        await load_key(ctx)


def key_secret_changed(ctx: Context, secret: dict[str, Any] | None) -> None:
    """The watch of the key Secret saw it change (None: deleted): act on the latest state
    soon, once however many events arrive meanwhile."""
    ids = ctx.identity
    ids.key_secret = secret
    if ids.key_queue is None:

        async def work(_: Hashable) -> None:
            await key_seen(ctx, ctx.identity.key_secret)

        ids.key_queue = Coalescer(work, delay=0.05)
    ids.key_queue.request("auth-key")


async def key_seen(ctx: Context, secret: dict[str, Any] | None) -> None:
    """The key Secret as read or watched (None: deleted): rotate if asked, adopt its key."""
    async with ctx.locks.hold("auth-key"):
        if secret is None:
            log.warning(
                "The auth key Secret was deleted: making a new key; every token is re-issued."
            )
            metrics.AUTH_KEY_ROTATIONS.labels("replaced").inc()
            secret = await _create(ctx)
        requested = rotation_requested(secret)
        if requested is not None:
            secret = await _write_new_key(ctx, secret, requested)
            metrics.AUTH_KEY_ROTATIONS.labels("requested").inc()
            log.info("Rotated the auth key (%s=%s).", labels.ANNOTATION_ROTATE_KEY_AT, requested)
            _post(ctx, secret, "AuthKeyRotated", "Rotated the auth key; re-issuing every token.")
        elif auth_key(secret) is None:
            log.warning("The auth key Secret holds no key: writing a new one.")
            metrics.AUTH_KEY_ROTATIONS.labels("replaced").inc()
            secret = await _write_new_key(ctx, secret, None)
        key = auth_key(secret)
        ids = ctx.identity
        if key is None or (ids.key is not None and ids.key.id == key.id):
            return
        ids.key = key
    count = reissue_all(ctx)
    if count:
        log.info("The auth key changed: re-issuing the tokens of %d subjects.", count)


async def _create(ctx: Context) -> dict[str, Any]:
    namespace = ctx.settings.platform_namespace
    desired = desired_key_secret(namespace, tokens.new_auth_key(), c.now())
    created = await ctx.kube.create(paths.secrets(namespace), desired)
    if created is not None:
        log.info("Generated the auth key in Secret %s/%s.", namespace, labels.AUTH_KEY_SECRET)
        return created
    current = await ctx.kube.get(key_path(ctx))  # made meanwhile (another writer, a restore)
    if current is None:
        raise RuntimeError("the auth key Secret is neither creatable nor readable")
    return current


async def _write_new_key(
    ctx: Context, current: dict[str, Any], answered: str | None
) -> dict[str, Any]:
    desired = desired_key_secret(
        ctx.settings.platform_namespace, tokens.new_auth_key(), c.now(), current, answered
    )
    return await ctx.kube.replace(key_path(ctx), desired)


def _post(ctx: Context, secret: dict[str, Any], reason: str, message: str) -> None:
    meta = secret["metadata"]
    ref = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {key: meta.get(key) for key in ("name", "namespace", "uid")},
    }
    ctx.recorder.post(ref, "Normal", reason, message)
