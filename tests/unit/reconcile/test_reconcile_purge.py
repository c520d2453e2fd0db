"""The purge timer against the in-memory API: what it writes, and what it never touches."""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from fake_kube import FakeKube  # type: ignore[import-not-found]
from racetrack_api.v1alpha1 import Job
from racetrack_api.v1alpha1.job import JobStatus, PurgeStatus
from racetrack_kube import paths
from racetrack_operator.reconcile import purge
from racetrack_operator.reconcile.context import Context
from racetrack_operator.reconcile.jobqueue import JobQueue
from racetrack_operator.reconcile.purge import purge_timer, refresh_purge
from racetrack_operator.render.status import status_patch
from racetrack_operator.settings import Settings

pytestmark = pytest.mark.asyncio

NOW = datetime.datetime(2026, 12, 1, 12, 0, tzinfo=datetime.UTC)
OLD = "2026-11-01T00:00:00Z"


class Events:
    def post(self, ref: dict[str, Any], type_: str, reason: str, message: str) -> None:
        pass


@pytest_asyncio.fixture
async def ctx() -> AsyncIterator[Context]:
    context = Context(
        FakeKube(), Settings(namespaces=("ml",), purge_interval_seconds=0.01), recorder=Events()
    )
    yield context
    context.requeue.cancel_all()


async def eventual_score(fake: FakeKube, path: str) -> float | None:
    """The Job's purge score once the timer wrote one (None if it never did within 1 s)."""
    for _ in range(100):
        if "purge" in fake.obj(path)["status"]:
            return float(fake.obj(path)["status"]["purge"]["score"])
        await asyncio.sleep(0.01)
    return None


def put_job(fake: FakeKube, name: str, version: str, **status: Any) -> str:
    path = paths.racetrack(Job, "ml", name)
    fake.put(
        path,
        {
            "apiVersion": "racetrack.io/v1alpha1",
            "kind": "Job",
            "metadata": {"name": name, "namespace": "ml", "creationTimestamp": OLD},
            "spec": {"name": "adder", "version": version},
            "status": {
                "conditions": [
                    {"type": "Ready", "status": "True", "lastTransitionTime": OLD},
                ],
                **status,
            },
        },
    )
    return path


async def test_writes_the_score_once_and_only_the_purge_field(ctx: Context) -> None:
    fake = ctx.kube
    assert isinstance(fake, FakeKube)
    old = put_job(fake, "adder-v1", "1.0.0", lastCallTime="2026-11-30T12:00:00Z")
    put_job(fake, "adder-v2", "2.0.0", lastCallTime="2026-12-01T11:00:00Z")
    assert await refresh_purge(ctx, NOW) == 2
    assert fake.obj(old)["status"]["purge"] == {
        "score": 1.0,
        "reasons": ["It has 1 newer version."],
    }
    # The gateway's field and the conditions are as they were.
    assert fake.obj(old)["status"]["lastCallTime"] == "2026-11-30T12:00:00Z"
    assert fake.obj(old)["status"]["conditions"][0]["type"] == "Ready"
    writes = len(fake.writes)
    assert await refresh_purge(ctx, NOW) == 0
    assert len(fake.writes) == writes, "an unchanged score is not written again"


async def test_a_newer_call_lowers_the_score_on_the_next_pass(ctx: Context) -> None:
    fake = ctx.kube
    assert isinstance(fake, FakeKube)
    path = put_job(fake, "adder-v1", "1.0.0")
    await refresh_purge(ctx, NOW)
    assert fake.obj(path)["status"]["purge"]["score"] == 10.0
    await fake.merge_patch(path + "/status", {"status": {"lastCallTime": "2026-12-01T11:59:00Z"}})
    assert await refresh_purge(ctx, NOW) == 1
    assert fake.obj(path)["status"]["purge"] == {"score": 0.0, "reasons": []}


async def test_the_timer_keeps_going_after_a_failed_pass(ctx: Context) -> None:
    fake = ctx.kube
    assert isinstance(fake, FakeKube)
    path = put_job(fake, "adder-v1", "1.0.0")
    fake.unavailable = True
    timer = asyncio.get_running_loop().create_task(purge_timer(ctx, lambda: NOW))
    try:
        await asyncio.sleep(0.05)
        assert "purge" not in fake.obj(path)["status"]
        fake.unavailable = False
        assert await eventual_score(fake, path) == 10.0
    finally:
        timer.cancel()


async def test_the_reconciliation_never_drops_the_purge_score(ctx: Context) -> None:
    old = JobStatus(purge=PurgeStatus(score=10.0, reasons=["x"]))
    new = JobStatus(observed_generation=2)
    patch = status_patch(old, new)
    assert patch is not None and "purge" not in patch


async def test_a_job_deleted_since_the_list_does_not_stop_the_others(ctx: Context) -> None:
    fake = ctx.kube
    assert isinstance(fake, FakeKube)
    path = put_job(fake, "adder-v1", "1.0.0")
    gone = put_job(fake, "adder-v2", "2.0.0")
    listed: list[dict[str, Any]] = await fake.list_objects(paths.racetrack(Job, "ml"))
    fake.remove(gone)

    async def stale_list(collection: str, **_: Any) -> list[dict[str, Any]]:
        return listed

    fake.list_objects = stale_list
    assert await refresh_purge(ctx, NOW) == 1
    assert fake.obj(path)["status"]["purge"]["score"] == 11.0


async def test_a_due_pass_runs_before_the_interval(
    ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = ctx.kube
    assert isinstance(fake, FakeKube)
    monkeypatch.setattr(purge, "SETTLE_SECONDS", 0.0)
    ctx.settings = Settings(namespaces=("ml",), purge_interval_seconds=3600)
    timer = asyncio.get_running_loop().create_task(purge_timer(ctx, lambda: NOW))
    try:
        await asyncio.sleep(0.05)  # the first pass, over no Jobs
        path = put_job(fake, "adder-v1", "1.0.0")
        await asyncio.sleep(0.05)
        assert "purge" not in fake.obj(path)["status"], "no pass without a reason"
        ctx.purge_due.set()
        assert await eventual_score(fake, path) == 10.0
    finally:
        timer.cancel()


async def test_changes_that_keep_coming_are_gathered_into_few_passes(
    ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = ctx.kube
    assert isinstance(fake, FakeKube)
    monkeypatch.setattr(purge, "SETTLE_SECONDS", 0.1)
    monkeypatch.setattr(purge, "BUSY_SECONDS", 0.5)
    ctx.settings = Settings(namespaces=("ml",), purge_interval_seconds=3600)
    passes: list[float] = []

    async def counted(context: Context, now: datetime.datetime) -> int:
        passes.append(asyncio.get_running_loop().time())
        return await refresh_purge(context, now)

    monkeypatch.setattr(purge, "refresh_purge", counted)
    timer = asyncio.get_running_loop().create_task(purge_timer(ctx, lambda: NOW))
    try:
        await asyncio.sleep(0.05)  # the first pass
        path = put_job(fake, "adder-v1", "1.0.0")
        started = asyncio.get_running_loop().time()
        for _ in range(40):  # a new Job every 25 ms for a second
            ctx.purge_due.set()
            await asyncio.sleep(0.025)
        # Busy for a second: a pass at most every BUSY_SECONDS, not one per SETTLE_SECONDS.
        during = [t for t in passes if t >= started]
        assert 1 <= len(during) <= 2, during
        assert await eventual_score(fake, path) == 10.0  # and one after it settles
    finally:
        timer.cancel()


async def test_a_job_waiting_for_its_first_reconciliation_is_left_to_its_own_status_write(
    ctx: Context,
) -> None:
    fake = ctx.kube
    assert isinstance(fake, FakeKube)
    waiting = put_job(fake, "adder-v1", "1.0.0")
    scored = put_job(fake, "adder-v2", "2.0.0", purge={"score": 99.0, "reasons": []})
    started, handled = asyncio.Event(), asyncio.Event()

    async def handle(key: Any, event_type: str, body: dict[str, Any]) -> None:
        started.set()
        await handled.wait()

    ctx.job_queue = JobQueue(handle, workers=1)
    ctx.job_queue.add(("ml", "adder-v1"), "ADDED", fake.obj(waiting))
    # It waits in the queue: left alone; a wrong score of a Job not waiting is corrected.
    assert await refresh_purge(ctx, NOW) == 1
    assert "purge" not in fake.obj(waiting)["status"]
    assert fake.obj(scored)["status"]["purge"]["score"] != 99.0
    # Being handled, it may have asked for a pass before this one began: scored now.
    ctx.job_queue.start()
    await asyncio.wait_for(started.wait(), timeout=5)
    assert await refresh_purge(ctx, NOW) == 1
    assert fake.obj(waiting)["status"]["purge"]["score"] == 11.0
    handled.set()
    await asyncio.wait_for(ctx.job_queue.drain(), timeout=5)
    ctx.job_queue.cancel()


async def test_the_first_pass_waits_until_the_job_watch_has_listed_every_job(
    ctx: Context,
) -> None:
    fake = ctx.kube
    assert isinstance(fake, FakeKube)
    path = put_job(fake, "adder-v1", "1.0.0")

    async def handle(key: Any, event_type: str, body: dict[str, Any]) -> None:
        pass

    ctx.job_queue = JobQueue(handle, workers=1)
    timer = asyncio.get_running_loop().create_task(purge_timer(ctx, lambda: NOW))
    try:
        await asyncio.sleep(0.05)
        assert "purge" not in fake.obj(path)["status"], "a pass before the Jobs were listed"
        ctx.jobs_listed.set()
        assert await eventual_score(fake, path) == 10.0
    finally:
        timer.cancel()
