"""Keep each User's, ExternalServiceConsumer's and JobFamily's caller token issued and published.

``reconcile_subject`` compares the subject with its token Secret (as ``render.tokens.plan``
reads them) and does what the plan says: issue a new token into the Secret (one write), or
delete the Secret of an inactive User, then write the token part of the subject's status
when it changed (one more write). A subject whose Secret is intact costs no API call, which
is what most events are: the echoes of our own writes, a family's version updates, an
operator restart.

It runs on the subject's own events (the kopf handlers), on events of its Secret (deleted or
edited by hand), on a change of the auth key (every subject, see ``reissue_all``), and when a
token expires. One lock per subject keeps these from issuing twice.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Hashable
from datetime import UTC, datetime
from typing import Any, cast

from racetrack_api import labels
from racetrack_api import tokens as codec
from racetrack_api.permissions import SubjectRef
from racetrack_api.v1alpha1 import API_VERSION, ExternalServiceConsumer, JobFamily, User
from racetrack_api.v1alpha1.permission import SubjectKind
from racetrack_kube import client, paths
from racetrack_operator import metrics
from racetrack_operator.reconcile.coalesce import Coalescer
from racetrack_operator.reconcile.context import Context
from racetrack_operator.reconcile.identity import newer
from racetrack_operator.render import tokens, tokensecrets
from racetrack_operator.render.diff import merge_patch

log = logging.getLogger(__name__)

KINDS = {
    SubjectKind.USER: User,
    SubjectKind.EXTERNAL_SERVICE_CONSUMER: ExternalServiceConsumer,
    SubjectKind.JOB_FAMILY: JobFamily,
}


class SecretTaken(Exception):
    """The token Secret's name is used by a Secret that is not this subject's."""


def subject_path(ref: SubjectRef) -> str:
    return paths.racetrack(KINDS[ref.kind], ref.namespace, ref.name)


async def reconcile_subject(
    ctx: Context, ref: SubjectRef, body: dict[str, Any] | None = None
) -> None:
    """Make the subject's token match the plan; ``body`` is the subject as an event gave it."""
    started = time.monotonic()
    try:
        async with ctx.locks.hold(("token", ref)):
            await _reconcile_locked(ctx, ref, body)
    except Exception:
        metrics.ERRORS.labels(str(ref.kind)).inc()
        metrics.RECONCILES.labels(str(ref.kind), "error").inc()
        raise
    finally:
        metrics.DURATION.labels(str(ref.kind)).observe(time.monotonic() - started)
    metrics.RECONCILES.labels(str(ref.kind), "ok").inc()


async def subject_seen(ctx: Context, ref: SubjectRef, body: dict[str, Any]) -> None:
    """The subject's watch delivered it: reconcile (and on failure, again later)."""
    await ctx.requeue.attempt(
        ("token", ref),
        lambda: reconcile_subject(ctx, ref, body),
        f"Reconciling the token of {tokens.describe(ref)}",
        lambda: reconcile_subject(ctx, ref),
    )


def request(ctx: Context, ref: SubjectRef) -> None:
    """Reconcile the subject soon, in the background (merged with other requests for it)."""
    ids = ctx.identity
    if ids.subject_queue is None:

        async def work(key: Hashable) -> None:
            await reconcile_subject(ctx, cast(SubjectRef, key))

        ids.subject_queue = Coalescer(work, delay=0.05)
    ids.subject_queue.request(ref)


def reissue_all(ctx: Context) -> int:
    """After the auth key changed: every known subject gets a token signed with the new one."""
    refs = list(ctx.identity.subjects)
    for ref in refs:
        request(ctx, ref)
    return len(refs)


def subject_deleted(ctx: Context, ref: SubjectRef) -> None:
    """Its Secret goes with it (ownerReferences); forget what we knew."""
    ids = ctx.identity
    ids.subjects.pop(ref, None)
    ctx.requeue.cancel(("token", ref))
    if ref.kind == SubjectKind.JOB_FAMILY and ref.namespace is not None:
        ids.family_tokens.pop((ref.namespace, ref.name), None)
        ids.family_jobs.pop((ref.namespace, ref.name), None)


def secret_changed(
    ctx: Context, view: tokensecrets.SecretView | None, gone: tokensecrets.SecretView | None
) -> None:
    """The token Secret watch saw ``view`` (None: ``gone`` was deleted)."""
    ids = ctx.identity
    if view is not None:
        known = ids.secrets.get((view.namespace, view.name))
        if known is not None and known.resource_version == view.resource_version:
            return  # the echo of our own write
        if not ids.store_secret(view):
            return  # older than what we wrote since
        owner = _owner(view)
    else:
        assert gone is not None
        known = ids.secrets.get((gone.namespace, gone.name))
        if known is not None and not newer(known.resource_version, gone.resource_version):
            return  # deleted before we wrote it anew
        ids.secrets.pop((gone.namespace, gone.name), None)
        owner = _owner(gone)
    if owner is not None and owner in ids.subjects:
        request(ctx, owner)


def _owner(view: tokensecrets.SecretView) -> SubjectRef | None:
    """The subject a token Secret belongs to, from its labels and namespace."""
    kind = next((k for k, t in tokensecrets.SUBJECT_TYPES.items() if t == view.token_type), None)
    if kind is None or not view.owner_name:
        return None
    namespace = None if kind == SubjectKind.USER else view.namespace
    return SubjectRef(kind, view.owner_name, namespace)


async def family_token(
    ctx: Context, namespace: str, family: str, job: str
) -> tokens.FamilyToken | None:
    """The family's token as ``job`` mounts it (issued first if it has none), or None."""
    ids = ctx.identity
    key = (namespace, family)
    ids.family_jobs.setdefault(key, set()).add(job)
    if key in ids.family_tokens:
        return ids.family_tokens[key]
    if not ids.ready():
        if ctx.settings.identity_wait_seconds <= 0:
            return None
        # Just started: a Deployment made now would roll again when the token comes.
        try:
            await asyncio.wait_for(ids.wait_ready(), ctx.settings.identity_wait_seconds)
        except TimeoutError:
            return None
        if key in ids.family_tokens:
            return ids.family_tokens[key]
    await reconcile_subject(ctx, SubjectRef(SubjectKind.JOB_FAMILY, family, namespace))
    return ids.family_tokens.get(key)


# -- internals -----------------------------------------------------------------------------


async def _reconcile_locked(ctx: Context, ref: SubjectRef, body: dict[str, Any] | None) -> None:
    ids = ctx.identity
    if body is not None:
        ids.remember(ref, body)
    known = ids.subjects.get(ref)
    if known is None:
        fetched = await ctx.kube.get(subject_path(ref))
        if fetched is None:
            subject_deleted(ctx, ref)
            return
        ids.remember(ref, fetched)
        known = ids.subjects[ref]
    subject = tokens.token_subject(ref.kind, known)
    if subject.deleting:
        return
    await ids.wait_ready()
    platform = ctx.settings.platform_namespace
    namespace = tokensecrets.secret_namespace(ref, platform)
    secret_key = (namespace, tokensecrets.secret_name(ref))
    now = datetime.now(UTC)
    view = ids.secrets.get(secret_key)
    plan = tokens.plan(subject, view, ids.key, platform, now)
    event: tuple[str, str, str] | None = None
    why = plan.issue
    if why is not None:
        try:
            view = await _issue(ctx, subject, view, now)
        except SecretTaken as taken:
            reason, message = tokens.conflict(str(taken))
            plan = tokens.Plan(None, False, None, ("False", reason, message))
        else:
            plan = tokens.plan(subject, view, ids.key, platform, now)
            metrics.TOKENS_ISSUED.labels(str(ref.kind), str(why)).inc()
            log.info("Issued a token (%s) for %s.", why, tokens.describe(ref))
            if why in tokens.EVENT_REASONS:
                # What a person asked for or should know of. A first token is told by Ready,
                # and a rotation re-issues every token at once (the key Secret's event says
                # so): an event for each of thousands would cost a write each.
                event = ("Normal", tokens.EVENT_REASONS[why], tokens.issued_message(why, view))
    elif plan.delete_secret:
        await ctx.kube.delete(paths.secrets(*secret_key))
        ids.secrets.pop(secret_key, None)
        log.info("Revoked the token of %s (inactive).", tokens.describe(ref))
        event = ("Normal", tokens.EVENT_REVOKED, "Deleted the token Secret: the User is inactive.")
    elif tokens.newly_expired(subject, plan):
        event = ("Warning", tokens.EVENT_EXPIRED, plan.ready[2])
    await _write_status(ctx, subject, plan, tokens.timestamp(now))
    if event is not None:
        ctx.recorder.post(_event_ref(ref, subject.uid), *event)
    if plan.recheck_at is not None:
        delay = max(0.0, (plan.recheck_at - datetime.now(UTC)).total_seconds()) + 0.5
        ctx.requeue.schedule(("token", ref), delay, lambda: reconcile_subject(ctx, ref))
    if ref.kind == SubjectKind.JOB_FAMILY and ref.namespace is not None:
        _family_token_seen(ctx, ref.namespace, ref.name, tokens.family_token(plan.token))


async def _issue(
    ctx: Context, subject: tokens.TokenSubject, view: tokensecrets.SecretView | None, now: datetime
) -> tokensecrets.SecretView:
    """Write a new token into the subject's Secret; the view of the Secret as written."""
    ids = ctx.identity
    key = ids.key
    assert key is not None
    seed = codec.new_seed()
    ref = subject.ref
    token = codec.encode(codec.Claims(seed, ref.name, subject.subject_type), key.value)
    caller = (
        codec.legacy_esc_token(ref.name, seed)
        if ref.kind == SubjectKind.EXTERNAL_SERVICE_CONSUMER
        else None
    )
    desired = tokensecrets.desired_secret(
        ref,
        subject.uid,
        subject.reset,
        tokensecrets.Issued(token, caller),
        key,
        ctx.settings.platform_namespace,
        tokens.timestamp(now),
    )
    meta = desired["metadata"]
    collection = paths.secrets(meta["namespace"])
    path = f"{collection}/{meta['name']}"
    written = None
    if view is None:
        written = await ctx.kube.create(collection, desired)
    else:
        meta["resourceVersion"] = view.resource_version
        try:
            written = await ctx.kube.replace(path, desired)
        except client.ApiError as error:
            if error.status not in (404, 409):
                raise
            if error.status == 404:
                del meta["resourceVersion"]
                written = await ctx.kube.create(collection, desired)
    if written is None:
        # The name exists but our view of it was missing or stale: look at it.
        current = await ctx.kube.get(path)
        if current is None:
            raise RuntimeError(f"Secret {path} is neither creatable nor readable; retrying")
        if not _ours(current, subject):
            raise SecretTaken(f"Secret {meta['namespace']}/{meta['name']}")
        meta["resourceVersion"] = current["metadata"]["resourceVersion"]
        written = await ctx.kube.replace(path, desired)
    new_view = tokensecrets.view_secret(written, key)
    ids.store_secret(new_view)
    return new_view


def _ours(secret: dict[str, Any], subject: tokens.TokenSubject) -> bool:
    meta = secret.get("metadata") or {}
    if labels.LABEL_TOKEN in (meta.get("labels") or {}):
        return True
    return any(ref.get("uid") == subject.uid for ref in meta.get("ownerReferences") or [])


async def _write_status(
    ctx: Context, subject: tokens.TokenSubject, plan: tokens.Plan, timestamp: str
) -> None:
    patch = merge_patch(
        tokens.current_status(subject), tokens.status_patch(subject, plan, timestamp)
    )
    if patch is None:
        return
    ref = subject.ref
    try:
        written = await ctx.kube.merge_patch(f"{subject_path(ref)}/status", {"status": patch})
    except client.ApiError as error:
        if error.status == 404:
            subject_deleted(ctx, ref)
            return
        raise
    ctx.identity.remember(ref, written)


def _family_token_seen(
    ctx: Context, namespace: str, family: str, token: tokens.FamilyToken | None
) -> None:
    ids = ctx.identity
    key = (namespace, family)
    before = ids.family_tokens.get(key)
    known = key in ids.family_tokens
    ids.family_tokens[key] = token
    if known and before != token and ids.family_token_changed is not None:
        ids.family_token_changed(namespace, family, token)


def _event_ref(ref: SubjectRef, uid: str) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": str(ref.kind),
        "metadata": {"name": ref.name, "namespace": ref.namespace, "uid": uid},
    }
