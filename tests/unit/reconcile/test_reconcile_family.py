"""The family's status sync writes versions and latest, and keeps what others publish there."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import yaml

from fake_kube import FakeKube  # type: ignore[import-not-found]
from racetrack_api.v1alpha1 import Job, JobFamily
from racetrack_kube import paths
from racetrack_operator.reconcile.context import Context
from racetrack_operator.reconcile.family import sync_family
from racetrack_operator.reconcile.job import deployment_seen, job_seen
from racetrack_operator.settings import Settings

pytestmark = pytest.mark.asyncio

NS, NAME = "ml", "adder-v1-0-0"
ADDER = Path(__file__).resolve().parents[3] / "examples" / "adder.yaml"
FAMILY = paths.racetrack(JobFamily, NS, "adder")
TOKEN = {"secretName": "adder-token", "hashes": ["ab" * 32], "issuedAt": "2026-11-25T12:00:00Z"}


class Events:
    def post(self, ref: dict[str, Any], type_: str, reason: str, message: str) -> None:
        pass


@pytest_asyncio.fixture
async def ctx() -> AsyncIterator[Context]:
    context = Context(
        FakeKube(), Settings(family_sync_seconds=0.0, identity_wait_seconds=0.0), recorder=Events()
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
    await deployment_seen(ctx, NS, NAME, copy.deepcopy(deployment))  # the version turns ready
    await sync_family(ctx, NS, "adder")
    await asyncio.sleep(0)
    status = fake.obj(FAMILY)["status"]
    assert status["latest"] == "1.0.0"
    assert status["token"] == TOKEN
