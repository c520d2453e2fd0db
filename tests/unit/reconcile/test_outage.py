"""An API server that is gone for a while: the reconciler keeps trying, often, until it is
back, and then finishes what it could not do, without a new event."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Hashable

import pytest
import pytest_asyncio
import urllib3
import yaml
from test_reconcile_job import ADDER, Events  # type: ignore[import-not-found]

from fake_kube import FakeKube  # type: ignore[import-not-found]
from racetrack_api.v1alpha1 import Job, JobFamily
from racetrack_kube import client, paths
from racetrack_operator.reconcile.coalesce import Coalescer
from racetrack_operator.reconcile.context import Context
from racetrack_operator.reconcile.job import job_seen
from racetrack_operator.settings import Settings

NS = "ml"
NAME = "adder-v1-0-0"


@pytest_asyncio.fixture
async def ctx() -> AsyncIterator[Context]:
    settings = Settings(family_sync_seconds=0.0, api_retry_seconds=0.02, identity_wait_seconds=0.0)
    context = Context(FakeKube(), settings, recorder=Events())
    yield context
    context.requeue.cancel_all()
    if context.family_syncs is not None:
        context.family_syncs.cancel()


async def until(condition: Callable[[], bool], what: str) -> None:
    async with asyncio.timeout(10):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.01)


@pytest.mark.asyncio
async def test_a_job_seen_during_an_outage_is_deployed_once_the_api_server_is_back(
    ctx: Context,
) -> None:
    fake = ctx.kube
    assert isinstance(fake, FakeKube)
    raw = yaml.safe_load(ADDER.read_text())
    raw["metadata"]["namespace"] = NS
    stored = fake.put(paths.racetrack(Job, NS, NAME), raw)
    fake.unavailable = True
    await job_seen(ctx, NS, NAME, stored)
    # A dozen failures: backing off 1, 2, 4 ... 60 s as for other errors would take minutes;
    # while nothing answers, retries stay at most api_retry_seconds apart.
    await until(lambda: fake.refused >= 12, "a dozen refused attempts")
    fake.unavailable = False
    await until(lambda: paths.deployments(NS, NAME) in fake.objects, "the Deployment")
    assert paths.services(NS, NAME) in fake.objects
    assert paths.racetrack(JobFamily, NS, "adder") in fake.objects
    assert fake.obj(paths.racetrack(Job, NS, NAME))["status"]["observedGeneration"] == 1
    assert [w for w in fake.writes if w[0] == "POST" and "deployments" in w[1]] == [
        ("POST", paths.deployments(NS, NAME))
    ]


def gone() -> Exception:
    return urllib3.exceptions.MaxRetryError(None, "/x", "Connection refused")  # type: ignore[arg-type]


@pytest.mark.asyncio
async def test_a_family_sync_outlasts_an_outage_longer_than_its_retries() -> None:
    attempts: list[Hashable] = []

    async def work(key: Hashable) -> None:
        attempts.append(key)
        if len(attempts) <= 12:
            raise gone()

    coalescer = Coalescer(
        work, delay=0.001, retries=3, transient=client.unavailable, max_delay=0.01
    )
    coalescer.request("family")
    await coalescer.drain()
    assert len(attempts) == 13  # failed twelve times, then done


@pytest.mark.asyncio
async def test_a_family_sync_gives_up_on_an_error_about_the_request_itself() -> None:
    attempts: list[Hashable] = []

    async def work(key: Hashable) -> None:
        attempts.append(key)
        raise client.ApiError(422, "Unprocessable Entity", "status.versions: invalid")

    coalescer = Coalescer(
        work, delay=0.001, retries=3, transient=client.unavailable, max_delay=0.01
    )
    coalescer.request("family")
    await coalescer.drain()
    assert len(attempts) == 4


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (gone(), True),
        (urllib3.exceptions.ReadTimeoutError(None, "/x", "read timed out"), True),  # type: ignore[arg-type]
        (ConnectionResetError(), True),
        (client.ApiError(503, "Service Unavailable", ""), True),
        (client.ApiError(500, "Internal Server Error", "etcdserver: request timed out"), True),
        (client.ApiError(429, "Too Many Requests", "storage is (re)initializing"), True),
        (client.ApiError(422, "Unprocessable Entity", ""), False),
        (client.ApiError(409, "Conflict", ""), False),
        (client.ApiError(403, "Forbidden", ""), False),
        (ValueError("a bug"), False),
    ],
)
def test_unavailable_tells_an_absent_api_server_from_a_refused_request(
    error: Exception, expected: bool
) -> None:
    assert client.unavailable(error) is expected
