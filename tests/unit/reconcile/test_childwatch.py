"""The Deployment and Service watches feeding the Job reconciler (``reconcile.childwatch``):
a restarted operator compares its Jobs with what they listed, reading nothing per Job."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, cast

import pytest
import pytest_asyncio
from test_reconcile_job import (  # type: ignore[import-not-found]
    DEPLOYMENT,
    JOB,
    NAME,
    NS,
    SERVICE,
    Events,
    adder,
    apply_job,
    kube,
    roll_out,
)

from fake_kube import FakeKube  # type: ignore[import-not-found]
from racetrack_kube.informer import Informer, key_of
from racetrack_operator.reconcile import childwatch
from racetrack_operator.reconcile.context import Context
from racetrack_operator.reconcile.job import job_seen, reconcile_job
from racetrack_operator.settings import Settings

pytestmark = pytest.mark.asyncio


class CountingKube(FakeKube):  # type: ignore[misc]
    def __init__(self) -> None:
        super().__init__()
        self.reads: list[str] = []

    async def get(self, path: str, *, accept: str = "application/json") -> Any:
        self.reads.append(path)
        return await super().get(path, accept=accept)


def settings() -> Settings:
    return Settings(stalled_retry_seconds=60, family_sync_seconds=0.0, identity_wait_seconds=0.0)


@pytest_asyncio.fixture
async def ctx() -> AsyncIterator[Context]:
    context = Context(CountingKube(), settings(), recorder=Events())
    yield context
    context.requeue.cancel_all()
    if context.family_syncs is not None:
        context.family_syncs.cancel()


def restarted(before: Context) -> Context:
    """A new operator process over the same API, its child watches listed."""
    fake = kube(before)
    ctx = Context(fake, settings(), recorder=Events())
    services = Informer(cast(Any, fake), "Job Services", "/services", lambda *_: None)
    service = fake.obj(SERVICE)
    services.store[key_of(service)] = childwatch.service_view(service)
    ctx.services.append(services)
    deployment = childwatch._deployment_kept(fake.obj(DEPLOYMENT))
    childwatch._deployment_changed(ctx, None, deployment)
    return ctx


async def test_a_restart_over_a_ready_job_reads_and_writes_nothing(ctx: Context) -> None:
    await apply_job(ctx, adder())
    await roll_out(ctx)
    fake = kube(ctx)
    assert isinstance(fake, CountingKube)
    again = restarted(ctx)
    fake.reads.clear()
    written = len(fake.writes)
    await job_seen(again, NS, NAME, fake.obj(JOB))  # the restarted Job watch lists it
    assert [path for path in fake.reads if path in (DEPLOYMENT, SERVICE, JOB)] == []
    assert fake.writes[written:] == []
    assert again.jobs[(NS, NAME)].applied
    again.requeue.cancel_all()


async def test_a_deployment_event_of_a_job_not_loaded_yet_only_records_its_view(
    ctx: Context,
) -> None:
    await apply_job(ctx, adder())
    await roll_out(ctx)
    fake = kube(ctx)
    again = Context(fake, settings(), recorder=Events())
    fake.reads.clear()
    kept = childwatch._deployment_kept(fake.obj(DEPLOYMENT))
    childwatch._deployment_changed(again, None, kept)
    assert again.deployments[(NS, NAME)] == kept["view"]
    assert again.background == set()  # no refresh started, nothing read
    assert fake.reads == []


async def test_a_service_deleted_by_hand_is_put_back_by_the_next_reconciliation(
    ctx: Context,
) -> None:
    await apply_job(ctx, adder())
    fake = kube(ctx)
    service = childwatch.service_view(fake.obj(SERVICE))
    fake.remove(SERVICE)
    childwatch._service_changed(ctx, service, None)
    await reconcile_job(ctx, NS, NAME)  # the next reconciliation (a change of the Job)
    assert SERVICE in fake.objects
