"""The family's status sync writes versions and latest, and keeps what others publish there."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import yaml

from fake_kube import FakeKube  # type: ignore[import-not-found]
from racetrack_api.permissions import SubjectRef
from racetrack_api.v1alpha1 import Job, JobFamily
from racetrack_api.v1alpha1.permission import SubjectKind
from racetrack_kube import paths
from racetrack_kube.informer import Informer
from racetrack_operator.reconcile import jobwatch
from racetrack_operator.reconcile.context import Context
from racetrack_operator.reconcile.family import sync_family
from racetrack_operator.reconcile.job import deployment_seen, job_deleted, job_seen
from racetrack_operator.reconcile.jobqueue import JobQueue
from racetrack_operator.render.family import desired_family, member_view
from racetrack_operator.render.rollout import deployment_view
from racetrack_operator.settings import Settings

pytestmark = pytest.mark.asyncio

NS, NAME = "ml", "adder-v1-0-0"
ADDER = Path(__file__).resolve().parents[3] / "examples" / "adder.yaml"
FAMILY = paths.racetrack(JobFamily, NS, "adder")
TOKEN = {"secretName": "adder-token", "hashes": ["ab" * 32], "issuedAt": "2026-11-25T12:00:00Z"}


class Events:
    def post(self, ref: dict[str, Any], type_: str, reason: str, message: str) -> None:
        pass


class CountingLists(FakeKube):  # type: ignore[misc]
    def __init__(self) -> None:
        super().__init__()
        self.lists = 0
        self.gets = 0

    async def list_objects(self, collection: str, **options: Any) -> Any:
        self.lists += 1
        return await super().list_objects(collection, **options)

    async def get(self, path: str, **options: Any) -> Any:
        self.gets += 1
        return await super().get(path, **options)


@pytest_asyncio.fixture
async def ctx() -> AsyncIterator[Context]:
    context = Context(
        CountingLists(),
        Settings(family_sync_seconds=0.0, identity_wait_seconds=0.0),
        recorder=Events(),
    )
    yield context
    context.requeue.cancel_all()
    if context.family_syncs is not None:
        context.family_syncs.cancel()


async def test_a_status_sync_keeps_the_published_token(ctx: Context) -> None:
    fake = ctx.kube
    assert isinstance(fake, FakeKube)
    raw: dict[str, Any] = yaml.safe_load(ADDER.read_text())
    raw["metadata"]["namespace"] = NS
    job = fake.put(paths.racetrack(Job, NS, NAME), raw)
    await job_seen(ctx, NS, NAME, job)
    await fake.merge_patch(FAMILY + "/status", {"status": {"token": TOKEN}})
    deployment = fake.obj(paths.deployments(NS, NAME))
    replicas = deployment["spec"]["replicas"]
    deployment["status"] = {
        "observedGeneration": deployment["metadata"]["generation"],
        "replicas": replicas,
        "updatedReplicas": replicas,
        "readyReplicas": replicas,
        "availableReplicas": replicas,
    }
    fake.objects[paths.deployments(NS, NAME)] = deployment
    await deployment_seen(ctx, NS, NAME, deployment_view(deployment))  # the version turns ready
    await sync_family(ctx, NS, "adder")
    await asyncio.sleep(0)
    status = fake.obj(FAMILY)["status"]
    assert status["latest"] == "1.0.0"
    assert status["token"] == TOKEN


def adder_version(fake: FakeKube, version: str) -> tuple[str, dict[str, Any]]:
    raw: dict[str, Any] = yaml.safe_load(ADDER.read_text())
    name = f"adder-v{version.replace('.', '-')}"
    raw["metadata"].update(namespace=NS, name=name)
    raw["spec"]["version"] = version
    return name, fake.put(paths.racetrack(Job, NS, name), raw)


async def test_a_family_is_listed_once_then_synced_from_its_known_jobs(ctx: Context) -> None:
    fake = ctx.kube
    assert isinstance(fake, CountingLists)
    first, body = adder_version(fake, "1.0.0")
    await job_seen(ctx, NS, first, body)
    await sync_family(ctx, NS, "adder")
    assert fake.lists == 1  # the first sync in this process asks the API server
    second, body = adder_version(fake, "1.1.0")
    await job_seen(ctx, NS, second, body)
    await sync_family(ctx, NS, "adder")
    versions = [v["version"] for v in fake.obj(FAMILY)["status"]["versions"]]
    assert versions == ["1.1.0", "1.0.0"]
    # A version deleted, and one held by a finalizer while deleting, are no versions.
    fake.remove(paths.racetrack(Job, NS, first))
    job_deleted(ctx, NS, first, "adder")
    deleting = {
        **body,
        "metadata": {**body["metadata"], "deletionTimestamp": "2026-12-01T00:00:00Z"},
    }
    await job_seen(ctx, NS, second, deleting)
    await sync_family(ctx, NS, "adder")
    assert fake.obj(FAMILY)["status"]["versions"] == []
    assert fake.lists == 1  # every later sync from what the watch told


async def test_a_sync_lists_again_while_a_known_job_is_not_loaded(ctx: Context) -> None:
    fake = ctx.kube
    assert isinstance(fake, CountingLists)
    first, body = adder_version(fake, "1.0.0")
    await job_seen(ctx, NS, first, body)
    await sync_family(ctx, NS, "adder")
    second, _ = adder_version(fake, "2.0.0")
    ctx.family_members[(NS, "adder")].add(second)  # listed or seen, its reconciliation pending
    await sync_family(ctx, NS, "adder")
    versions = [v["version"] for v in fake.obj(FAMILY)["status"]["versions"]]
    assert versions == ["2.0.0", "1.0.0"]
    assert fake.lists == 2


async def test_a_listed_job_not_loaded_yet_counts_as_listed_without_listing_again(
    ctx: Context,
) -> None:
    fake = ctx.kube
    assert isinstance(fake, CountingLists)
    first, body = adder_version(fake, "1.0.0")
    second, second_body = adder_version(fake, "2.0.0")
    await job_seen(ctx, NS, first, body)  # the list finds 2.0.0 too, not loaded yet
    await sync_family(ctx, NS, "adder")
    await sync_family(ctx, NS, "adder")
    versions = [v["version"] for v in fake.obj(FAMILY)["status"]["versions"]]
    assert versions == ["2.0.0", "1.0.0"]
    assert fake.lists == 1
    # Loaded at last, it counts as loaded; deleted, it is no version and nothing lists.
    await job_seen(ctx, NS, second, second_body)
    assert (NS, second) not in ctx.family_listed_jobs
    fake.remove(paths.racetrack(Job, NS, second))
    job_deleted(ctx, NS, second, "adder")
    await sync_family(ctx, NS, "adder")
    assert [v["version"] for v in fake.obj(FAMILY)["status"]["versions"]] == ["1.0.0"]
    assert fake.lists == 1


async def test_a_listed_job_deleted_before_it_was_loaded_is_no_version(ctx: Context) -> None:
    fake = ctx.kube
    assert isinstance(fake, CountingLists)
    first, body = adder_version(fake, "1.0.0")
    second, _ = adder_version(fake, "2.0.0")
    await job_seen(ctx, NS, first, body)
    await sync_family(ctx, NS, "adder")
    fake.remove(paths.racetrack(Job, NS, second))
    job_deleted(ctx, NS, second, "adder")  # its reconciliation never came
    await sync_family(ctx, NS, "adder")
    assert [v["version"] for v in fake.obj(FAMILY)["status"]["versions"]] == ["1.0.0"]


async def test_once_the_job_watch_has_listed_a_sync_reads_nothing(ctx: Context) -> None:
    """Neither the family nor its Jobs: the family watch and the Job watch have both."""
    fake = ctx.kube
    assert isinstance(fake, CountingLists)
    first, body = adder_version(fake, "1.0.0")
    second, second_body = adder_version(fake, "2.0.0")
    # 2.0.0 is Ready since an earlier run of the operator; neither is reconciled here yet.
    ready = {"conditions": [{"type": "Ready", "status": "True", "reason": "Available"}]}
    second_body = fake.put(paths.racetrack(Job, NS, second), {**second_body, "status": ready})
    family = fake.put(FAMILY, desired_family(NS, "adder", "ml-team@example.org"))
    # What the family watch and the Job watch delivered.
    ctx.identity.remember(SubjectRef(SubjectKind.JOB_FAMILY, "adder", NS), family)

    async def unused(key: Any, event_type: str, raw: dict[str, Any]) -> None:
        raise AssertionError("the queue is not started here")

    ctx.job_queue = JobQueue(unused, workers=1)
    watch = Informer(fake, "Jobs", paths.racetrack(Job, NS), lambda *_: None)
    ctx.job_watches = [watch]
    for name, raw in ((first, body), (second, second_body)):
        watch.store[(NS, name)] = member_view(raw)
        jobwatch.job_changed(ctx, None, raw)
    # Asked for while the Job watch still lists: the sync waits for the list.
    sync = asyncio.create_task(sync_family(ctx, NS, "adder"))
    await asyncio.sleep(0.05)
    assert not sync.done() and "status" not in fake.obj(FAMILY)
    ctx.jobs_listed.set()
    await sync
    status = fake.obj(FAMILY)["status"]
    assert [(v["version"], v["ready"]) for v in status["versions"]] == [
        ("2.0.0", True),
        ("1.0.0", False),
    ]
    assert status["latest"] == "2.0.0"
    assert (fake.gets, fake.lists) == (0, 0)
    # The family as written is what the next sync compares with: nothing more to write.
    writes = len(fake.writes)
    await sync_family(ctx, NS, "adder")
    assert len(fake.writes) == writes and (fake.gets, fake.lists) == (0, 0)
