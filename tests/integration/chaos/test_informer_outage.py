"""The watch-fed store the gateway agent and the webhooks build on, through an API server
that is killed and held down: it keeps what it knew, and catches up once it is back."""

from __future__ import annotations

import asyncio
import time

import pytest
import yaml
from chaos_helpers import ChaosCluster  # type: ignore[import-not-found]

from racetrack_api.v1alpha1 import Maintenance
from racetrack_devcluster import chaos
from racetrack_kube import paths
from racetrack_kube.client import Kube
from racetrack_kube.informer import Informer

pytestmark = [pytest.mark.cluster, pytest.mark.asyncio]

OUTAGE_SECONDS = 10.0


def maintenance(name: str, message: str) -> str:
    return yaml.safe_dump(
        {"apiVersion": "racetrack.io/v1alpha1", "kind": "Maintenance",
         "metadata": {"name": name}, "spec": {"active": False, "message": message}}
    )  # fmt: skip


async def test_an_informer_keeps_its_store_through_an_outage_and_catches_up(
    chaos_cluster: ChaosCluster,
) -> None:
    cluster = chaos_cluster.cluster
    cluster.kubectl("apply", "-f", "-", input=maintenance("before", "one"))
    kube = Kube(cluster.api_client(), 4)
    informer = Informer(kube, "Maintenance", paths.racetrack(Maintenance), lambda *_: None)
    task = asyncio.create_task(informer.run())
    try:
        await asyncio.wait_for(informer.synced.wait(), 30)
        assert informer.get(None, "before") is not None
        with cluster.healer.held("kube-apiserver"):
            killed = chaos.kill(cluster, "kube-apiserver")
            await asyncio.sleep(OUTAGE_SECONDS)
            assert not task.done(), task.exception() if task.done() else None
            assert informer.get(None, "before") is not None  # readers keep being served
        await asyncio.to_thread(chaos.wait_back, cluster, killed)
        cluster.kubectl("apply", "-f", "-", input=maintenance("after", "two"))
        cluster.kubectl("delete", "rtmaint", "before")
        deadline = time.monotonic() + 120
        while informer.get(None, "after") is None or informer.get(None, "before") is not None:
            assert not task.done(), task.exception() if task.done() else None
            assert time.monotonic() < deadline, "the informer did not catch up"
            await asyncio.sleep(0.1)
    finally:
        task.cancel()
        kube.close()
