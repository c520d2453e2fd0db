"""Reconcile one Job: checks, JobFamily, Deployment and Service, then status and events.

Level-triggered, in the controller-runtime manner: ``reconcile_job`` runs whenever the Job's
watch shows something we have not acted on (``needs_apply``), makes the children match, and
requeues itself when the world may still fix a problem (a missing Secret) or a call failed.
``sync_job`` is also called by the Deployment watch (``apply=False``: only refresh status from
the Deployment, using what the last reconciliation learnt, see ``jobstate``). Both run under
one lock per Job, so status writes never interleave; status is written only when it changed.
"""

from __future__ import annotations

import dataclasses
import datetime
import logging
import time
from typing import Any, cast

import kopf

from racetrack_operator import conditions as c
from racetrack_operator import metrics
from racetrack_operator.api.v1alpha1.job import REDEPLOY_ANNOTATION, UnhealthyPod
from racetrack_operator.reconcile import children
from racetrack_operator.reconcile import kube as k
from racetrack_operator.reconcile.context import Context
from racetrack_operator.reconcile.family import ensure_family, request_sync
from racetrack_operator.reconcile.jobstate import Desired, JobState, event_ref, load
from racetrack_operator.render.diff import merge_patch
from racetrack_operator.render.names import ANNOTATION_RENDER_HASH, LABEL_JOB
from racetrack_operator.render.pods import LOG_TAIL_LINES, find_unhealthy, log_tail
from racetrack_operator.render.status import Problem, events, job_status

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Outcome:
    problem: Problem | None
    ready: bool


async def sync_job(
    ctx: Context,
    namespace: str,
    name: str,
    *,
    apply: bool,
    deployment: dict[str, Any] | None = None,
    raw: dict[str, Any] | None = None,
    look_at_pods: bool = False,
) -> Outcome | None:
    """Returns None when the Job is gone or being deleted, or the refresh was merged.

    ``raw`` is the Job as kopf handed it to a handler (saves a read); ``deployment`` is what
    the Deployment watch just reported; ``look_at_pods`` reads the pods of an unavailable Job
    to find a failing one and its last log lines.
    """
    key = (namespace, name)
    if not apply:
        # Deployment events come in bursts during a rollout: while a refresh for this Job is
        # already waiting for the lock, hand it the newer Deployment instead of queueing.
        if key in ctx.waiting_refresh:
            ctx.waiting_refresh[key] = deployment
            return None
        ctx.waiting_refresh[key] = deployment
    started = time.monotonic()
    registered = not apply
    try:
        async with ctx.locks.hold(("job", namespace, name)):
            if not apply:
                deployment = ctx.waiting_refresh.pop(key, deployment)
                registered = False
            result = await _sync_locked(
                ctx, key, apply=apply, deployment=deployment, raw=raw, look_at_pods=look_at_pods
            )
    except Exception:
        metrics.ERRORS.labels("Job").inc()
        metrics.RECONCILES.labels("Job", "error").inc()
        raise
    finally:
        if registered:
            # Cancelled while waiting for the lock: leave no waiter that nobody will serve,
            # or every later refresh of this Job would be merged into it and lost.
            ctx.waiting_refresh.pop(key, None)
        metrics.DURATION.labels("Job").observe(time.monotonic() - started)
    if result is None:
        return None
    outcome, family = result
    metrics.RECONCILES.labels("Job", "stalled" if outcome.problem else "ok").inc()
    if family:
        request_sync(ctx, namespace, family)
    return outcome


def needs_apply(state: JobState | None, raw: dict[str, Any]) -> bool:
    """Whether a watched Job differs from what we last reconciled (not just our status)."""
    if state is None:
        return True
    meta: dict[str, Any] = raw.get("metadata") or {}
    known = state.job.metadata
    if meta.get("deletionTimestamp"):
        return False
    if not state.applied:
        return True
    if (meta.get("uid"), meta.get("generation")) != (known.get("uid"), known.get("generation")):
        return True
    annotations = meta.get("annotations") or {}
    known_annotations = known.get("annotations") or {}
    return bool(annotations.get(REDEPLOY_ANNOTATION) != known_annotations.get(REDEPLOY_ANNOTATION))


async def reconcile_job(
    ctx: Context, namespace: str, name: str, raw: dict[str, Any] | None = None
) -> None:
    """Apply the Job; on a retryable problem or an error, try again later by itself."""
    key = (namespace, name)

    async def again() -> None:
        await reconcile_job(ctx, namespace, name)

    try:
        outcome = await sync_job(ctx, namespace, name, apply=True, raw=raw)
    except Exception:
        delay = ctx.requeue.backoff(key)
        log.exception("Reconciling Job %s/%s failed; retrying in %.0f s.", namespace, name, delay)
        ctx.requeue.schedule(key, delay, again)
        return
    ctx.requeue.succeeded(key)
    if outcome is not None and outcome.problem is not None:
        log.warning(
            "Job %s/%s is stalled (%s): %s",
            namespace,
            name,
            outcome.problem.reason,
            outcome.problem.message,
        )
        if outcome.problem.retry:
            ctx.requeue.schedule(key, ctx.settings.stalled_retry_seconds, again)


def forget(ctx: Context, namespace: str, name: str) -> None:
    ctx.jobs.pop((namespace, name), None)
    ctx.requeue.cancel((namespace, name))
    ctx.requeue.cancel(("unhealthy", namespace, name))
    metrics.JOB_CONDITIONS.forget(namespace, name)


async def _sync_locked(
    ctx: Context,
    key: tuple[str, str],
    *,
    apply: bool,
    deployment: dict[str, Any] | None,
    raw: dict[str, Any] | None,
    look_at_pods: bool,
) -> tuple[Outcome, str] | None:
    namespace, name = key
    path = k.racetrack("jobs", namespace, name)
    state = ctx.jobs.get(key)
    # The first time this process applies a Job (after a restart its family may have been
    # missing when a Deployment event first loaded it), its family is synced as well.
    first_apply = apply and (state is None or not state.applied)
    if apply or state is None:
        if raw is None:
            raw = await ctx.kube.get(path)
        if raw is None or raw["metadata"].get("deletionTimestamp"):
            forget(ctx, namespace, name)
            return None
        previous = state
        state, desired = await load(ctx.kube, ctx.settings, raw, previous)
        if previous is not None and previous.job.metadata.get("uid") == raw["metadata"]["uid"]:
            state.service_hash = previous.service_hash
        if apply and state.parsed:
            await ensure_family(ctx, namespace, state.job.spec.name, state.job.spec.owner_email)
        if apply and desired is not None:
            try:
                deployment = await _apply(ctx, state, desired)
            except children.NotOurs as error:
                state.problem = Problem(
                    c.REASON_NAME_CONFLICT,
                    f"{error}; delete it or give this Job another metadata.name",
                    retry=True,
                )
        state.applied = apply
        ctx.jobs[key] = state
    if deployment is None:
        # Even when stalled, report on whatever Deployment is running.
        deployment = ctx.deployments.get(key) or await ctx.kube.get(k.deployments(namespace, name))

    unhealthy = None
    if deployment is not None and not _available(deployment):
        if look_at_pods:
            unhealthy = await diagnose(ctx, namespace, name)

        async def look_again() -> None:
            await sync_job(ctx, namespace, name, apply=False, look_at_pods=True)

        # Pods fail without their Deployment changing, so a Job that stays unavailable is
        # looked at again on a timer; a rollout that finishes before it costs no pod reads.
        ctx.requeue.schedule(
            ("unhealthy", namespace, name), ctx.settings.stalled_retry_seconds, look_again
        )

    old = state.job.status
    new = job_status(
        state.job,
        problem=state.problem,
        deployment=deployment,
        desired_hash=state.desired_hash,
        url=state.url,
        timestamp=c.now(),
        unhealthy=unhealthy,
    )
    patch = merge_patch(old.to_wire(), new.to_wire())
    if patch is not None:
        try:
            await ctx.kube.merge_patch(f"{path}/status", {"status": patch})
        except k.ApiError as error:
            if error.status == 404:  # deleted meanwhile
                forget(ctx, namespace, name)
                return None
            raise
        state.job = state.job.model_copy(update={"status": new})
    for event in events(old, new):
        kopf.event(
            cast(kopf.Body, event_ref(state.job)),
            type=event.type,
            reason=event.reason,
            message=event.message,
        )
    metrics.JOB_CONDITIONS.record(
        namespace, name, {cond.type: cond.status for cond in new.conditions}
    )
    ready = c.is_true(new.conditions, c.READY)
    # The family lists versions and their readiness: tell it when either may have changed.
    family_changed = patch is not None and (
        c.is_true(old.conditions, c.READY) != ready or old.observed_generation == 0
    )
    family = state.job.spec.name if state.parsed and (family_changed or first_apply) else ""
    return Outcome(state.problem, ready), family


def _available(deployment: dict[str, Any]) -> bool:
    status = deployment.get("status") or {}
    want = int((deployment.get("spec") or {}).get("replicas", 1))
    return int(status.get("availableReplicas") or 0) >= want and not status.get(
        "unavailableReplicas"
    )


async def diagnose(ctx: Context, namespace: str, name: str) -> UnhealthyPod | None:
    """A failing pod of the Job with its container's last log lines, or None."""
    listed = await ctx.kube.request(
        "GET", k.pods(namespace), query=[("labelSelector", f"{LABEL_JOB}={name}")]
    )
    trouble = find_unhealthy(listed.get("items") or [], datetime.datetime.now(datetime.UTC))
    if trouble is None:
        return None
    query = [("container", trouble.container), ("tailLines", str(LOG_TAIL_LINES))]
    if trouble.previous_logs:
        query.append(("previous", "true"))
    try:
        text = await ctx.kube.text(f"{k.pods(namespace)}/{trouble.pod}/log", query)
    except k.ApiError as error:
        # No logs yet (an image that cannot be pulled) is an answer too.
        text = f"(no logs: HTTP {error.status})"
    return UnhealthyPod(
        name=trouble.pod,
        reason=trouble.reason,
        message=trouble.message,
        restarts=trouble.restarts,
        log_tail=log_tail(text),
    )


async def _apply(ctx: Context, state: JobState, desired: Desired) -> dict[str, Any]:
    job = state.job
    namespace = str(job.namespace)
    seen = ctx.deployments.get((namespace, job.name))
    live, done = await children.ensure(
        ctx.kube,
        k.deployments(namespace),
        desired.deployment,
        replace=True,
        seen=seen,
        # A Job without status was never deployed: try creating its Deployment at once. One
        # with status, seen before its Deployment's watch event (an operator restart), is
        # read first: an "already exists" answer costs the API server more than a read.
        create_first=job.status.observed_generation == 0,
    )
    if done:
        log.info("%s Deployment %s/%s.", done.capitalize(), namespace, job.name)
    if done == "updated":
        # Creation is told by the Ready event; a rollout of a running Job deserves its own.
        kopf.event(
            cast(kopf.Body, event_ref(job)),
            type="Normal",
            reason="DeploymentUpdated",
            message=f"Rolling out generation {job.generation} to Deployment {job.name}.",
        )
    service_hash = desired.service["metadata"]["annotations"][ANNOTATION_RENDER_HASH]
    if state.service_hash == service_hash:
        # This process already made sure of this very Service; a Service deleted by hand
        # since is put back by the next change of the Job or an operator restart.
        return live
    async with ctx.service_writes:
        _, service_done = await children.ensure(
            ctx.kube,
            k.services(namespace),
            desired.service,
            replace=False,
            create_first=done == "created",
        )
    state.service_hash = service_hash
    if service_done:
        log.info("%s Service %s/%s.", service_done.capitalize(), namespace, job.name)
    return live
