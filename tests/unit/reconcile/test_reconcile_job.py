"""The Job reconciler against an in-memory API (``fake_kube``): what it creates, writes and
reports, in milliseconds. The same behaviours run against a real control plane in
tests/integration/jobs; here every branch is cheap enough to cover."""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import datetime
import functools
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import yaml

from fake_kube import FakeKube  # type: ignore[import-not-found]
from racetrack_api import conditions as c
from racetrack_api.v1alpha1 import Job, JobFamily
from racetrack_kube import paths
from racetrack_operator.reconcile import job as job_module
from racetrack_operator.reconcile import jobwatch
from racetrack_operator.reconcile.context import Context
from racetrack_operator.reconcile.job import (
    deployment_deleted,
    deployment_seen,
    job_event,
    job_seen,
    reconcile_job,
    sync_job,
)
from racetrack_operator.reconcile.jobqueue import JobQueue
from racetrack_operator.reconcile.purge import refresh_purge
from racetrack_operator.render.family import member_view
from racetrack_operator.render.jobs import without_bookkeeping
from racetrack_operator.render.names import ANNOTATION_RENDER_HASH
from racetrack_operator.render.rollout import deployment_view
from racetrack_operator.settings import Settings

pytestmark = pytest.mark.asyncio

NS = "ml"
NAME = "adder-v1-0-0"
ADDER = Path(__file__).resolve().parents[3] / "examples" / "adder.yaml"
JOB = paths.racetrack(Job, NS, NAME)
DEPLOYMENT = paths.deployments(NS, NAME)
SERVICE = paths.services(NS, NAME)
FAMILY = paths.racetrack(JobFamily, NS, "adder")


class Events:
    """Records events instead of posting them."""

    def __init__(self) -> None:
        self.posted: list[tuple[str, str, str]] = []

    def post(self, ref: dict[str, Any], type_: str, reason: str, message: str) -> None:
        self.posted.append((type_, reason, message))

    def reasons(self) -> list[str]:
        return [reason for _, reason, _ in self.posted]


@pytest_asyncio.fixture
async def ctx() -> AsyncIterator[Context]:
    settings = Settings(
        stalled_retry_seconds=0.05, family_sync_seconds=0.0, identity_wait_seconds=0.0
    )
    context = Context(FakeKube(), settings, recorder=Events())
    yield context
    context.requeue.cancel_all()
    if context.family_syncs is not None:
        context.family_syncs.cancel()


def kube(ctx: Context) -> FakeKube:
    assert isinstance(ctx.kube, FakeKube)
    return ctx.kube


def events(ctx: Context) -> Events:
    assert isinstance(ctx.recorder, Events)
    return ctx.recorder


def adder(**spec: Any) -> dict[str, Any]:
    raw: dict[str, Any] = yaml.safe_load(ADDER.read_text())
    raw["metadata"]["namespace"] = NS
    raw["spec"].update(spec)
    return raw


async def apply_job(ctx: Context, raw: dict[str, Any]) -> dict[str, Any]:
    """kubectl apply, then the Job's watch event."""
    fake = kube(ctx)
    stored: dict[str, Any]
    if JOB in fake.objects:
        stored = await fake.merge_patch(JOB, {"spec": raw["spec"], "metadata": raw["metadata"]})
    else:
        stored = fake.put(JOB, raw)
    await job_seen(ctx, NS, NAME, stored)
    return stored


def condition(ctx: Context, type_: str) -> tuple[str, str] | None:
    status = kube(ctx).obj(JOB).get("status") or {}
    for cond in status.get("conditions") or []:
        if cond["type"] == type_:
            return cond["status"], cond["reason"]
    return None


async def roll_out(ctx: Context, available: int | None = None) -> None:
    """What the Deployment controller and the kubelets do, then the Deployment's event."""
    fake = kube(ctx)
    deployment = fake.obj(DEPLOYMENT)
    want = deployment["spec"]["replicas"]
    ready = want if available is None else available
    deployment["status"] = {
        "observedGeneration": deployment["metadata"]["generation"],
        "replicas": want,
        "updatedReplicas": want,
        "readyReplicas": ready,
        "availableReplicas": ready,
    }
    fake.objects[DEPLOYMENT] = deployment
    await deployment_seen(ctx, NS, NAME, deployment_view(deployment))


async def until(condition: Callable[[], bool]) -> None:
    """Let the reconciler's timers run until ``condition`` holds (the deadline stops a hang)."""
    async with asyncio.timeout(10):
        # Polling: the condition is the fake API's state, which has no event to wait on.
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.01)


async def family_synced(ctx: Context) -> dict[str, Any]:
    assert ctx.family_syncs is not None
    await ctx.family_syncs.drain()
    status: dict[str, Any] = kube(ctx).obj(FAMILY).get("status") or {}
    return status


async def test_a_valid_job_gets_its_family_deployment_and_service_owned_by_it(
    ctx: Context,
) -> None:
    job = await apply_job(ctx, adder())
    fake = kube(ctx)
    deployment, service = fake.obj(DEPLOYMENT), fake.obj(SERVICE)
    for child in (deployment, service):
        owner = child["metadata"]["ownerReferences"][0]
        assert (owner["uid"], owner["controller"]) == (job["metadata"]["uid"], True)
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == job["spec"]["image"]
    assert deployment["spec"]["replicas"] == 2
    assert fake.obj(FAMILY)["metadata"]["labels"]["racetrack.io/family"] == "adder"
    assert condition(ctx, c.DEPLOYED) == ("True", c.REASON_DEPLOYMENT_UP_TO_DATE)
    assert condition(ctx, c.READY) == ("False", c.REASON_ROLLOUT_IN_PROGRESS)
    assert condition(ctx, c.RECONCILING) == ("True", c.REASON_ROLLOUT_IN_PROGRESS)


async def test_an_available_deployment_makes_the_job_ready_and_the_family_knows(
    ctx: Context,
) -> None:
    await apply_job(ctx, adder())
    assert (await family_synced(ctx)).get("latest") is None
    await roll_out(ctx)
    assert condition(ctx, c.READY) == ("True", c.REASON_JOB_READY)
    assert condition(ctx, c.RECONCILING) is None
    assert c.REASON_JOB_READY in events(ctx).reasons()
    family = await family_synced(ctx)
    assert family["latest"] == "1.0.0"
    assert family["versions"] == [{"version": "1.0.0", "job": NAME, "ready": True}]


async def test_a_job_that_stops_being_available_leaves_latest(ctx: Context) -> None:
    await apply_job(ctx, adder())
    await roll_out(ctx)
    assert (await family_synced(ctx))["latest"] == "1.0.0"
    await roll_out(ctx, available=0)
    assert condition(ctx, c.READY) == ("False", c.REASON_ROLLOUT_IN_PROGRESS)
    assert (await family_synced(ctx)).get("latest") is None


async def test_a_deployment_name_taken_by_another_job_is_never_adopted(ctx: Context) -> None:
    fake = kube(ctx)
    theirs = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": NAME,
            "ownerReferences": [
                {"kind": "Job", "name": "other", "uid": "u-other", "controller": True}
            ],
            "annotations": {ANNOTATION_RENDER_HASH: "theirs"},
        },
        "spec": {"replicas": 7},
    }
    fake.put(DEPLOYMENT, theirs)
    await apply_job(ctx, adder())
    assert fake.obj(DEPLOYMENT)["spec"] == {"replicas": 7}
    assert fake.writes_to(DEPLOYMENT) == []
    assert condition(ctx, c.STALLED) == ("True", c.REASON_NAME_CONFLICT)
    assert condition(ctx, c.READY) == ("False", c.REASON_NAME_CONFLICT)


async def test_a_spec_problem_stalls_without_creating_anything(ctx: Context) -> None:
    await apply_job(ctx, adder(jobtypeExtra={"entrypoint_class": "Adder"}))
    assert DEPLOYMENT not in kube(ctx).objects
    assert condition(ctx, c.STALLED) == ("True", c.REASON_INVALID_SPEC)
    assert ("Warning", c.REASON_INVALID_SPEC) in [(t, r) for t, r, _ in events(ctx).posted]


async def test_the_fixing_spec_change_recovers_a_stalled_job(ctx: Context) -> None:
    await apply_job(ctx, adder(jobtypeExtra={"entrypoint_class": "Adder"}))
    await apply_job(ctx, adder())
    assert DEPLOYMENT in kube(ctx).objects
    assert condition(ctx, c.STALLED) is None
    assert "Recovered" in events(ctx).reasons()


async def test_a_missing_secret_is_waited_for_and_the_job_continues_when_it_appears(
    ctx: Context,
) -> None:
    await apply_job(ctx, adder(secretRuntimeEnv={"name": "adder-secrets"}))
    assert condition(ctx, c.STALLED) == ("True", c.REASON_SECRET_NOT_FOUND)
    assert DEPLOYMENT not in kube(ctx).objects
    kube(ctx).put(paths.secrets(NS, "adder-secrets"), {"metadata": {"name": "adder-secrets"}})
    # The retry is the reconciler's own timer, not a new event.
    await until(lambda: DEPLOYMENT in kube(ctx).objects)
    assert condition(ctx, c.STALLED) is None


async def test_a_spec_change_rolls_the_deployment_and_says_so(ctx: Context) -> None:
    await apply_job(ctx, adder())
    await roll_out(ctx)
    await apply_job(ctx, adder(replicas=3))
    deployment = kube(ctx).obj(DEPLOYMENT)
    assert deployment["spec"]["replicas"] == 3
    assert "DeploymentUpdated" in events(ctx).reasons()
    assert condition(ctx, c.READY) == ("False", c.REASON_ROLLOUT_IN_PROGRESS)
    await roll_out(ctx)
    assert condition(ctx, c.READY) == ("True", c.REASON_JOB_READY)


async def test_a_redeploy_annotation_rolls_the_pods_of_an_unchanged_job(ctx: Context) -> None:
    raw = adder()
    await apply_job(ctx, raw)
    before = kube(ctx).obj(DEPLOYMENT)["spec"]["template"]
    raw["metadata"]["annotations"] = {"racetrack.io/redeploy-at": "2026-12-01T13:00:00Z"}
    await apply_job(ctx, raw)
    after = kube(ctx).obj(DEPLOYMENT)["spec"]["template"]
    assert after != before
    assert after["metadata"]["annotations"]["racetrack.io/redeploy-at"] == "2026-12-01T13:00:00Z"


async def test_our_own_status_echo_and_an_unchanged_job_write_nothing(ctx: Context) -> None:
    await apply_job(ctx, adder())
    await roll_out(ctx)
    fake = kube(ctx)
    written = len(fake.writes)
    await job_seen(ctx, NS, NAME, fake.obj(JOB))  # the echo of our status write
    await reconcile_job(ctx, NS, NAME)  # a full reconciliation of an unchanged Job
    assert fake.writes[written:] == []


async def test_the_watch_events_through_the_work_queue_deploy_then_forget_a_job(
    ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As the Job watch hands them over: whole Jobs, and for a deletion the view it stored.
    ctx.job_queue = queue = JobQueue(functools.partial(job_event, ctx), workers=2)
    queue.start()
    fake = kube(ctx)
    stored = without_bookkeeping(fake.put(JOB, adder()))
    jobwatch.job_changed(ctx, None, stored)
    jobwatch.job_changed(ctx, member_view(stored), stored)  # merged: one reconciliation
    await asyncio.wait_for(queue.drain(), timeout=10)
    assert DEPLOYMENT in fake.objects
    assert condition(ctx, c.DEPLOYED) == ("True", c.REASON_DEPLOYMENT_UP_TO_DATE)
    written = len(fake.writes)
    echo = fake.obj(JOB)  # the echo of our status write
    jobwatch.job_changed(ctx, member_view(stored), echo)
    await asyncio.wait_for(queue.drain(), timeout=10)
    assert [path for _, path in fake.writes[written:] if path.startswith(JOB)] == []
    assert (NS, NAME) in ctx.jobs
    family_syncs: list[tuple[str, str]] = []
    monkeypatch.setattr(job_module, "request_sync", lambda _, ns, f: family_syncs.append((ns, f)))
    jobwatch.job_changed(ctx, member_view(echo), None)
    await asyncio.wait_for(queue.drain(), timeout=10)
    queue.cancel()
    assert (NS, NAME) not in ctx.jobs
    assert family_syncs == [(NS, "adder")]  # the family forgets the version


async def test_the_job_watch_tells_the_family_of_a_version_that_started_serving(
    ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Level-triggered: whatever the reconciliation told the family (here: nothing), the
    # watch's echo of a status that starts or stops serving brings the family up to date.
    ctx.job_queue = queue = JobQueue(functools.partial(job_event, ctx), workers=2)
    queue.start()
    stored = without_bookkeeping(kube(ctx).put(JOB, adder()))
    jobwatch.job_changed(ctx, None, stored)
    await asyncio.wait_for(queue.drain(), timeout=10)
    assert (await family_synced(ctx)).get("latest") is None
    before = member_view(kube(ctx).obj(JOB))
    monkeypatch.setattr(job_module, "request_sync", lambda *_: None)
    await roll_out(ctx)
    assert (await family_synced(ctx)).get("latest") is None  # not told
    jobwatch.job_changed(ctx, before, without_bookkeeping(kube(ctx).obj(JOB)))
    await asyncio.wait_for(queue.drain(), timeout=10)
    queue.cancel()
    family = await family_synced(ctx)
    assert family["latest"] == "1.0.0"
    assert family["versions"] == [{"version": "1.0.0", "job": NAME, "ready": True}]


async def test_a_status_write_carries_the_purge_score_so_the_timer_writes_nothing(
    ctx: Context,
) -> None:
    fake = kube(ctx)
    newer = adder(version="2.0.0")
    newer["metadata"]["name"] = "adder-v2-0-0"
    fake.put(paths.racetrack(Job, NS, "adder-v2-0-0"), newer)
    await apply_job(ctx, adder())
    await family_synced(ctx)  # the family's Jobs are listed: its versions are known
    await roll_out(ctx)
    assert condition(ctx, c.READY) == ("True", c.REASON_JOB_READY)
    assert fake.obj(JOB)["status"]["purge"] == {
        "score": 1.0,
        "reasons": ["It has 1 newer version."],
    }
    before = len(fake.writes)
    await refresh_purge(ctx, datetime.datetime.now(datetime.UTC))  # scores 2.0.0 (never seen)
    assert [path for _, path in fake.writes[before:] if path.startswith(JOB)] == []


async def test_a_deployment_deleted_by_hand_is_put_back(ctx: Context) -> None:
    await apply_job(ctx, adder())
    fake = kube(ctx)
    fake.remove(DEPLOYMENT)
    await deployment_deleted(ctx, NS, NAME)
    assert DEPLOYMENT in fake.objects
    assert condition(ctx, c.DEPLOYED) == ("True", c.REASON_DEPLOYMENT_UP_TO_DATE)


async def test_a_crashing_pod_and_its_last_log_lines_show_in_status(ctx: Context) -> None:
    await apply_job(ctx, adder())
    await roll_out(ctx, available=0)
    fake = kube(ctx)
    pod = "adder-v1-0-0-7d9f-abcde"
    fake.put(
        f"{paths.pods(NS)}/{pod}",
        {
            "metadata": {"name": pod, "labels": {"racetrack.io/job": NAME}},
            "status": {
                "containerStatuses": [
                    {
                        "name": "job",
                        "ready": False,
                        "restartCount": 3,
                        "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                    }
                ]
            },
        },
    )
    fake.logs[f"{paths.pods(NS)}/{pod}/log"] = "starting\nImportError: no module named numpy\n"
    await sync_job(ctx, NS, NAME, apply=False, look_at_pods=True)
    unhealthy = fake.obj(JOB)["status"]["unhealthyPod"]
    assert unhealthy["reason"] == "CrashLoopBackOff"
    assert unhealthy["logTail"][-1] == "ImportError: no module named numpy"
    await roll_out(ctx)
    assert "unhealthyPod" not in fake.obj(JOB)["status"]


async def test_a_rollout_that_finishes_stops_the_look_at_its_pods(ctx: Context) -> None:
    await apply_job(ctx, adder())
    await roll_out(ctx, available=0)
    assert ctx.requeue.pending(("unhealthy", NS, NAME))
    await roll_out(ctx)
    assert not ctx.requeue.pending(("unhealthy", NS, NAME))
    assert condition(ctx, c.READY) == ("True", c.REASON_JOB_READY)


async def test_a_job_deleted_meanwhile_is_forgotten(ctx: Context) -> None:
    await apply_job(ctx, adder())
    kube(ctx).remove(JOB)
    assert await sync_job(ctx, NS, NAME, apply=True) is None
    assert (NS, NAME) not in ctx.jobs


async def test_status_writes_keep_the_last_call_time_the_gateway_wrote(ctx: Context) -> None:
    await apply_job(ctx, adder())
    await roll_out(ctx)
    fake = kube(ctx)
    written = "2026-11-25T12:00:00Z"
    # The gateway writes lastCallTime to the status subresource on its own.
    await fake.merge_patch(JOB + "/status", {"status": {"lastCallTime": written}})
    await job_seen(ctx, NS, NAME, copy.deepcopy(fake.obj(JOB)))
    await roll_out(ctx, available=1)
    assert condition(ctx, c.READY) == ("False", c.REASON_ROLLOUT_IN_PROGRESS)
    assert fake.obj(JOB)["status"]["lastCallTime"] == written
    # An operator that starts now reads the Job with the time in its status, and its next
    # status write is computed from that view: it must neither drop nor rewrite the time.
    restarted = Context(fake, ctx.settings, recorder=Events())
    try:
        await job_seen(restarted, NS, NAME, copy.deepcopy(fake.obj(JOB)))
        await roll_out(restarted)
        assert condition(restarted, c.READY) == ("True", c.REASON_JOB_READY)
        assert fake.obj(JOB)["status"]["lastCallTime"] == written
    finally:
        restarted.requeue.cancel_all()
        if restarted.family_syncs is not None:
            restarted.family_syncs.cancel()


def status_writes(ctx: Context) -> int:
    return len(kube(ctx).writes_to(JOB + "/status"))


async def test_rollout_progress_shares_one_status_write_and_ready_is_written_at_once(
    ctx: Context,
) -> None:
    ctx.settings = dataclasses.replace(ctx.settings, progress_write_seconds=0.2)
    await apply_job(ctx, adder())  # two replicas
    written = status_writes(ctx)
    await roll_out(ctx, available=0)
    await roll_out(ctx, available=1)
    # Only counts moved: nothing written yet...
    assert status_writes(ctx) == written
    assert kube(ctx).obj(JOB)["status"].get("updatedReplicas", 0) == 0
    # ...then one write reports where the rollout got.
    await until(lambda: status_writes(ctx) == written + 1)
    status = kube(ctx).obj(JOB)["status"]
    assert (status["updatedReplicas"], status["availableReplicas"]) == (2, 1)
    await asyncio.sleep(0.3)
    assert status_writes(ctx) == written + 1
    await roll_out(ctx)
    assert condition(ctx, c.READY) == ("True", c.REASON_JOB_READY)  # no waiting for a flip
    assert status_writes(ctx) == written + 2


async def test_a_rollout_that_finishes_first_needs_only_the_ready_write(ctx: Context) -> None:
    ctx.settings = dataclasses.replace(ctx.settings, progress_write_seconds=0.2)
    await apply_job(ctx, adder())
    written = status_writes(ctx)
    await roll_out(ctx, available=0)
    await roll_out(ctx)
    assert condition(ctx, c.READY) == ("True", c.REASON_JOB_READY)
    await asyncio.sleep(0.4)
    assert status_writes(ctx) == written + 1


async def test_a_deployment_event_that_changes_nothing_status_reads_costs_no_refresh(
    ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    await apply_job(ctx, adder())
    await roll_out(ctx)
    refreshed: list[str] = []
    real_sync = job_module.sync_job

    async def counting_sync(*args: Any, **kwargs: Any) -> Any:
        refreshed.append(args[2])
        return await real_sync(*args, **kwargs)

    monkeypatch.setattr(job_module, "sync_job", counting_sync)
    deployment = copy.deepcopy(kube(ctx).obj(DEPLOYMENT))
    deployment["metadata"]["annotations"]["deployment.kubernetes.io/revision"] = "2"
    deployment["metadata"]["resourceVersion"] = "999"
    await deployment_seen(ctx, NS, NAME, deployment_view(deployment))
    assert refreshed == []
    await roll_out(ctx, available=1)  # a replica lost: that is news
    assert refreshed == [NAME]
    assert condition(ctx, c.READY) == ("False", c.REASON_ROLLOUT_IN_PROGRESS)
