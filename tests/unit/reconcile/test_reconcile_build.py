"""Builds as the reconciler drives them, against the in-memory API: the batch Job started,
followed and read back, the Deployment made only from a built image, failures that leave the
running version alone, one build per Job and a cap on builds in the cluster."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from test_reconcile_job import (  # type: ignore[import-not-found]
    DEPLOYMENT,
    JOB,
    NS,
    Events,
    adder,
    apply_job,
    condition,
    kube,
    roll_out,
    until,
)

from build_fixtures import (  # type: ignore[import-not-found]
    DIGEST,
    REVISION,
    RUNNING,
    WAITING,
    batch,
    pip_failure,
    pod,
    succeeded_pod,
    terminated,
)
from fake_kube import FakeKube  # type: ignore[import-not-found]
from racetrack_api import conditions as c
from racetrack_kube import paths
from racetrack_operator.reconcile.context import Context
from racetrack_operator.reconcile.job import build_seen, reconcile_job
from racetrack_operator.settings import Settings

pytestmark = pytest.mark.asyncio

REGISTRY = "registry.example.org"
GIT = {"remote": "https://git.example.org/ml/adder.git", "branch": "main"}
BUILDS = paths.batch_jobs(NS)
IMAGE = f"{REGISTRY}/racetrack/jobs/adder:1.0.0-3f2a9c1d0b7e@{DIGEST}"


def settings(**changes: Any) -> Settings:
    return Settings(
        stalled_retry_seconds=0.05,
        family_sync_seconds=0.0,
        identity_wait_seconds=0.0,
        registry=REGISTRY,
        builder_image=f"{REGISTRY}/racetrack/builder:1",
        python3_base_image=f"{REGISTRY}/racetrack/python3-base:1",
        build_poll_seconds=3600,  # the tests move builds along themselves
        **changes,
    )


@pytest_asyncio.fixture
async def ctx() -> AsyncIterator[Context]:
    context = Context(FakeKube(), settings(), recorder=Events())
    yield context
    context.requeue.cancel_all()
    if context.family_syncs is not None:
        context.family_syncs.cancel()


def built_job(**spec: Any) -> dict[str, Any]:
    raw: dict[str, Any] = adder(**{"git": GIT, **spec})
    raw["spec"].pop("image")
    return raw


def builds(ctx: Context) -> dict[str, dict[str, Any]]:
    return {
        path.rsplit("/", 1)[1]: obj
        for path, obj in kube(ctx).objects.items()
        if path.startswith(BUILDS + "/")
    }


def only_build(ctx: Context) -> str:
    [name] = builds(ctx)
    return name


async def finish(ctx: Context, name: str, pod_body: dict[str, Any], *conditions: str) -> None:
    """What the Job controller and the kubelet do, then the batch Job's event."""
    fake = kube(ctx)
    body = copy.deepcopy(pod_body)
    body["metadata"]["name"] = f"{name}-pod-{len(fake.objects)}"
    body["metadata"]["labels"] = {"batch.kubernetes.io/job-name": name}
    fake.put(f"{paths.pods(NS)}/{body['metadata']['name']}", body)
    job = fake.obj(f"{BUILDS}/{name}")
    job["status"] = batch(name, *conditions)["status"]
    fake.objects[f"{BUILDS}/{name}"] = job
    await build_seen(ctx, NS, job["metadata"]["labels"]["racetrack.io/build-of"], job)


async def second_version(ctx: Context) -> str:
    """Another version of the family, applied and reconciled; its path."""
    other = built_job()
    other["metadata"]["name"] = "adder-v2-0-0"
    other["spec"]["version"] = "2.0.0"
    path = f"{JOB.rsplit('/', 1)[0]}/adder-v2-0-0"
    kube(ctx).put(path, other)
    await reconcile_job(ctx, NS, "adder-v2-0-0")
    return path


def deployed_image(ctx: Context) -> str:
    image: str = kube(ctx).obj(DEPLOYMENT)["spec"]["template"]["spec"]["containers"][0]["image"]
    return image


def build_status(ctx: Context) -> dict[str, Any]:
    found: dict[str, Any] = kube(ctx).obj(JOB)["status"]["build"]
    return found


async def test_a_job_from_git_is_built_before_anything_is_deployed(ctx: Context) -> None:
    await apply_job(ctx, built_job())
    name = only_build(ctx)
    assert name.startswith("adder-v1-0-0-build-")
    assert DEPLOYMENT not in kube(ctx).objects
    assert condition(ctx, c.BUILT) == ("Unknown", c.REASON_BUILDING)
    assert condition(ctx, c.READY) == ("False", c.REASON_BUILDING)
    assert condition(ctx, c.RECONCILING) == ("True", c.REASON_BUILDING)
    assert condition(ctx, c.STALLED) is None
    assert build_status(ctx)["job"] == name

    running = pod("p", "2026-12-01T12:00:00Z", fetch=RUNNING, build=WAITING)
    await finish(ctx, name, running)
    assert build_status(ctx)["step"] == "fetch"
    assert "BuildStarted" in ctx.recorder.reasons()  # type: ignore[attr-defined]

    await finish(ctx, name, succeeded_pod(), "Complete")
    assert deployed_image(ctx) == IMAGE
    assert condition(ctx, c.BUILT) == ("True", c.REASON_BUILD_SUCCEEDED)
    assert build_status(ctx)["revision"] == REVISION
    await roll_out(ctx)
    assert condition(ctx, c.READY) == ("True", c.REASON_JOB_READY)
    assert kube(ctx).obj(JOB)["status"]["image"] == IMAGE
    assert ctx.recorder.reasons().count(c.REASON_BUILD_SUCCEEDED) == 1  # type: ignore[attr-defined]


async def test_a_built_job_is_not_built_again_unless_its_inputs_change(ctx: Context) -> None:
    await apply_job(ctx, built_job())
    first = only_build(ctx)
    await finish(ctx, first, succeeded_pod(), "Complete")
    await roll_out(ctx)
    writes = len(kube(ctx).writes_to(BUILDS))
    # More replicas: a new generation, the same image.
    await apply_job(ctx, built_job(replicas=3))
    assert len(kube(ctx).writes_to(BUILDS)) == writes
    assert kube(ctx).obj(DEPLOYMENT)["spec"]["replicas"] == 3
    # A rebuild asked for: a new build, and the old one goes.
    again = built_job()
    again["metadata"]["annotations"] = {"racetrack.io/rebuild-at": "2026-12-01T13:00:00Z"}
    await apply_job(ctx, again)
    assert list(builds(ctx)) != [first] and len(builds(ctx)) == 1
    assert ("DELETE", f"{BUILDS}/{first}") in kube(ctx).writes


async def test_a_failed_build_leaves_the_running_version_serving(ctx: Context) -> None:
    await apply_job(ctx, built_job())
    await finish(ctx, only_build(ctx), succeeded_pod(), "Complete")
    await roll_out(ctx)
    deployment_writes = len(kube(ctx).writes_to(DEPLOYMENT))

    await apply_job(
        ctx, built_job(jobtypeExtra={"entrypoint_path": "a.py", "requirements_path": "r.txt"})
    )
    failing = pod(
        "p",
        "2026-12-01T12:01:00Z",
        fetch=terminated(0, {"revision": REVISION}),
        build=terminated(65, pip_failure()),
    )
    await finish(ctx, only_build(ctx), failing, "Failed:PodFailurePolicy")
    assert condition(ctx, c.BUILT) == ("False", c.REASON_DEPENDENCIES_FAILED)
    assert condition(ctx, c.READY) == ("False", c.REASON_DEPENDENCIES_FAILED)
    assert condition(ctx, c.STALLED) == ("True", c.REASON_DEPENDENCIES_FAILED)
    # The previous image still runs, untouched, on every replica.
    assert deployed_image(ctx) == IMAGE
    assert len(kube(ctx).writes_to(DEPLOYMENT)) == deployment_writes
    assert condition(ctx, c.AVAILABLE) == ("True", c.REASON_REPLICAS_AVAILABLE)
    status = kube(ctx).obj(JOB)["status"]
    assert status["build"]["logTail"] == pip_failure()["log"]
    message = next(x["message"] for x in status["conditions"] if x["type"] == c.BUILT)
    assert "No matching distribution found for x==9" in message
    reasons = ctx.recorder.reasons()  # type: ignore[attr-defined]
    assert reasons.count("BuildFailed") == 1 and c.REASON_DEPENDENCIES_FAILED not in reasons


async def test_builds_wait_for_a_slot_and_start_when_one_frees(ctx: Context) -> None:
    ctx.settings = settings(max_concurrent_builds=1)
    await apply_job(ctx, built_job())
    first = only_build(ctx)
    other_path = await second_version(ctx)
    assert list(builds(ctx)) == [first]
    status = kube(ctx).obj(other_path)["status"]
    queued = next(x for x in status["conditions"] if x["type"] == c.BUILT)
    assert (queued["status"], queued["reason"]) == ("Unknown", c.REASON_BUILD_QUEUED)
    assert "1 of 1 builds run" in queued["message"]

    await finish(ctx, first, succeeded_pod(), "Complete")
    await until(lambda: len(builds(ctx)) == 2)
    started = [name for name in builds(ctx) if name != first]
    assert started[0].startswith("adder-v2-0-0-build-")


async def test_a_restarted_operator_reads_no_build_of_a_built_job(ctx: Context) -> None:
    await apply_job(ctx, built_job())
    await finish(ctx, only_build(ctx), succeeded_pod(), "Complete")
    await roll_out(ctx)
    fake = kube(ctx)
    fake.remove(f"{BUILDS}/{only_build(ctx)}")  # even with its batch Job gone
    restarted = Context(fake, ctx.settings, recorder=Events())
    try:
        await reconcile_job(restarted, NS, "adder-v1-0-0")
        assert builds(restarted) == {}
        assert condition(restarted, c.BUILT) == ("True", c.REASON_BUILD_SUCCEEDED)
        assert deployed_image(restarted) == IMAGE
    finally:
        restarted.requeue.cancel_all()


async def test_a_missing_credentials_secret_stalls_before_any_build(ctx: Context) -> None:
    await apply_job(ctx, built_job(git={**GIT, "credentials": {"name": "git-creds"}}))
    assert builds(ctx) == {}
    assert condition(ctx, c.STALLED) == ("True", c.REASON_SECRET_NOT_FOUND)
    kube(ctx).put(paths.secrets(NS, "git-creds"), {"metadata": {"name": "git-creds"}})
    await until(lambda: len(builds(ctx)) == 1)


async def test_without_a_registry_the_operator_says_it_cannot_build(ctx: Context) -> None:
    ctx.settings = Settings(
        stalled_retry_seconds=0.05, family_sync_seconds=0.0, identity_wait_seconds=0.0
    )
    await apply_job(ctx, built_job())
    assert builds(ctx) == {}
    assert condition(ctx, c.STALLED) == ("True", c.REASON_BUILD_NOT_CONFIGURED)


async def test_a_deleted_build_frees_its_slot(ctx: Context) -> None:
    ctx.settings = settings(max_concurrent_builds=1)
    await apply_job(ctx, built_job())
    first = only_build(ctx)
    await second_version(ctx)
    assert list(builds(ctx)) == [first]
    # Its Job was deleted, and the garbage collector took the build with it.
    body = kube(ctx).obj(f"{BUILDS}/{first}")
    kube(ctx).remove(f"{BUILDS}/{first}")
    await build_seen(ctx, NS, "adder-v1-0-0", body, deleted=True)
    await until(lambda: any(name.startswith("adder-v2-0-0-") for name in builds(ctx)))
