"""Permissions the operator grants: a new User's defaults, and a deployer's per-job grants.

Both are granted once and then belong to the admins: a default deleted by an admin stays
deleted (the User records ``racetrack.io/default-permissions`` once they are made), and a
deployer's grants are made on the first reconciliation of a Job (one that has no status yet).
Creation tolerates "already exists", so a retry after a failure half-way finishes the job.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from racetrack_api import labels
from racetrack_api.permissions import SubjectRef
from racetrack_api.v1alpha1 import Job, Permission, User
from racetrack_api.v1alpha1.permission import SubjectKind
from racetrack_kube import client, paths
from racetrack_operator.reconcile import tokens
from racetrack_operator.reconcile.context import Context
from racetrack_operator.render import permissions as render

log = logging.getLogger(__name__)

_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


async def grant_user_defaults(ctx: Context, user: dict[str, Any]) -> dict[str, Any]:
    """The User's default Permissions, unless they were made before; the User as updated."""
    meta: dict[str, Any] = user["metadata"]
    if meta.get("deletionTimestamp"):
        return user
    if labels.ANNOTATION_DEFAULT_PERMISSIONS in (meta.get("annotations") or {}):
        return user
    namespace = ctx.settings.platform_namespace
    made = []
    for permission in render.user_default_permissions(meta["name"], meta["uid"], namespace):
        await ctx.kube.create(paths.racetrack(Permission, namespace), permission)
        made.append(permission["spec"]["scope"])
    granted = ",".join(made)
    updated = await ctx.kube.merge_patch(
        paths.racetrack(User, None, meta["name"]),
        {"metadata": {"annotations": {labels.ANNOTATION_DEFAULT_PERMISSIONS: granted}}},
    )
    log.info("Granted User %s the default permissions %s.", meta["name"], granted)
    return updated


async def user_seen(ctx: Context, body: dict[str, Any]) -> None:
    """A User's watch delivered it: its default Permissions (once), then its token."""
    ref = SubjectRef(SubjectKind.USER, str(body["metadata"]["name"]))
    try:
        body = await grant_user_defaults(ctx, body)
    except client.ApiError as error:
        # The token does not wait for the defaults; the next event of the User retries them.
        log.error(
            "Could not grant User %s its default permissions (HTTP %d): %s",
            ref.name,
            error.status,
            str(error)[:300],
        )
    await tokens.subject_seen(ctx, ref, body)


async def grant_deployer(ctx: Context, job: Job) -> None:
    """Per-job grants for the User who deployed ``job`` (``racetrack.io/deployed-by``), if
    that names a User: identities that are not Users (cluster admins, GitOps controllers)
    are governed by Kubernetes RBAC and get none."""
    deployer = (job.metadata.get("annotations") or {}).get(labels.ANNOTATION_DEPLOYED_BY)
    if not deployer or not _DNS_SUBDOMAIN.fullmatch(deployer) or job.namespace is None:
        return
    ref = SubjectRef(SubjectKind.USER, deployer)
    known = (
        ctx.identity.presence.has_subject(ref) if ctx.identity.presence.synced.is_set() else None
    )
    if known is None:
        path = paths.racetrack(User, None, deployer)
        known = await ctx.kube.get(path, accept=client.PARTIAL_METADATA) is not None
    if not known:
        return
    collection = paths.racetrack(Permission, job.namespace)
    for permission in render.deployer_permissions(job, deployer):
        await ctx.kube.create(collection, permission)
    log.info(
        "Granted User %s read, call, redeploy and delete on Job %s/%s, which they deployed.",
        deployer,
        job.namespace,
        job.name,
    )
