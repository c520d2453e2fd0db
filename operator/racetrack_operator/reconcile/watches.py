"""The watches behind identities, started with the operator (``racetrack_kube.informer``).

kopf watches the kinds the operator reconciles; these watch what kopf cannot narrow on the
server side or cannot say when it has listed in full:
- the auth key Secret, by name (rotation requests, hand edits, deletion);
- Secrets labelled ``racetrack.io/token`` (deleted or edited by hand): only those Secrets
  cross the wire, and each is kept as a ``SecretView`` of digests, never its values;
- which Users, ExternalServiceConsumers and JobFamilies exist, metadata only, for the
  status of Permissions (``reconcile.presence``);
- the Jobs' Deployments and Services (``reconcile.childwatch``), so a Job is compared with
  its children without reading them.

Subjects wait for the key and the token Secrets to be known before any token is issued (a
Secret not listed yet is not a missing Secret); Permissions wait for the presence watches.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from typing import Any

from racetrack_api import labels
from racetrack_api.v1alpha1 import ExternalServiceConsumer, JobFamily, User
from racetrack_api.v1alpha1.permission import SubjectKind
from racetrack_kube import paths
from racetrack_kube.client import JsonDict, Kube
from racetrack_kube.informer import Informer
from racetrack_operator.reconcile import authkey, childwatch, permissions, tokens
from racetrack_operator.reconcile.context import Context
from racetrack_operator.render.tokensecrets import view_secret

log = logging.getLogger(__name__)

PRESENCE_KINDS = {
    SubjectKind.USER: User,
    SubjectKind.EXTERNAL_SERVICE_CONSUMER: ExternalServiceConsumer,
    SubjectKind.JOB_FAMILY: JobFamily,
}


async def start(ctx: Context, kube: Kube, sync_timeout: float = 60.0) -> None:
    """Load the key, start the watches, and wait (a bounded time) until they have listed."""
    ids = ctx.identity
    settings = ctx.settings
    ids.presence.watch_namespaces(settings.watched_namespaces)
    if not await authkey.load_key(ctx):
        _spawn(ctx, authkey.keep_loading(ctx))

    platform = settings.platform_namespace
    key_watch = Informer(
        kube,
        "auth key Secret",
        paths.secrets(platform),
        lambda _, old, new: authkey.key_secret_changed(ctx, new),
        field_selector=f"metadata.name={labels.AUTH_KEY_SECRET}",
    )
    _spawn(ctx, key_watch.run())

    secret_watches = [
        Informer(
            kube,
            "token Secrets",
            collection,
            functools.partial(_secret_changed, ctx),
            label_selector=labels.LABEL_TOKEN,
            transform=functools.partial(_secret_view, ctx),
        )
        for collection in _collections(settings.watched_namespaces, paths.secrets)
    ]
    presence_watches = []
    for kind, model in PRESENCE_KINDS.items():
        namespaces = () if kind == SubjectKind.USER else settings.watched_namespaces
        for collection in _collections(namespaces, functools.partial(paths.racetrack, model)):
            presence_watches.append(
                Informer(
                    kube,
                    f"{model.crd.kind} presence",
                    collection,
                    functools.partial(_presence_changed, ctx, kind),
                    metadata_only=True,
                    transform=_metadata,
                )
            )
    for watch in [*secret_watches, *presence_watches]:
        _spawn(ctx, watch.run())
    _spawn(ctx, _set_when_synced(secret_watches, ids.secrets_synced))
    _spawn(ctx, _set_when_synced(presence_watches, ids.presence.synced))
    children = childwatch.start(ctx, kube)
    deadline = asyncio.get_running_loop().time() + sync_timeout
    try:
        await asyncio.wait_for(
            asyncio.gather(ids.secrets_synced.wait(), ids.presence.synced.wait()), sync_timeout
        )
    except TimeoutError:
        log.error(
            "Token Secrets, Users, ExternalServiceConsumers or JobFamilies could not be listed "
            "within %.0f s (see the warnings above); tokens and Permission status wait for "
            "them.",
            sync_timeout,
        )
    try:
        # Within the same wait: until they have listed, the reconciler reads instead.
        remaining = max(0.0, deadline - asyncio.get_running_loop().time())
        await asyncio.wait_for(
            asyncio.gather(*(watch.synced.wait() for watch in children)), remaining
        )
    except TimeoutError:
        log.error(
            "The Jobs' Deployments and Services could not be listed within %.0f s (see the "
            "warnings above); reconciliations read them until they are.",
            sync_timeout,
        )


def _collections(namespaces: tuple[str, ...], collection: Any) -> list[str]:
    """One collection for every namespace, or one per watched namespace."""
    if not namespaces:
        return [collection(None)]
    return [collection(namespace) for namespace in namespaces]


def _spawn(ctx: Context, work: Any) -> None:
    ctx.identity.tasks.append(asyncio.get_running_loop().create_task(work))


async def _set_when_synced(watches: list[Informer], event: asyncio.Event) -> None:
    await asyncio.gather(*(watch.synced.wait() for watch in watches))
    event.set()


def _secret_view(ctx: Context, body: JsonDict) -> JsonDict:
    meta = body.get("metadata") or {}
    kept = {key: meta.get(key) for key in ("name", "namespace", "resourceVersion")}
    return {"metadata": kept, "view": view_secret(body, ctx.identity.key)}


def _secret_changed(ctx: Context, _: str, old: JsonDict | None, new: JsonDict | None) -> None:
    tokens.secret_changed(
        ctx, None if new is None else new["view"], None if old is None else old["view"]
    )


def _metadata(body: JsonDict) -> JsonDict:
    meta = body.get("metadata") or {}
    return {"metadata": {key: meta.get(key) for key in ("name", "namespace", "resourceVersion")}}


def _presence_changed(
    ctx: Context, kind: SubjectKind, _: str, old: JsonDict | None, new: JsonDict | None
) -> None:
    meta = (new or old or {}).get("metadata") or {}
    namespace = meta.get("namespace")
    permissions.presence_changed(ctx, kind, namespace, str(meta.get("name")), new is not None)
