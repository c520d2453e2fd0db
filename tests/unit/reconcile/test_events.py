"""Events reach ``kubectl describe`` from kopf's handlers and from our own background work."""

from __future__ import annotations

import asyncio

import pytest

from fake_kube import FakeKube  # type: ignore[import-not-found]
from racetrack_operator.reconcile.events import SOURCE, KopfRecorder

pytestmark = pytest.mark.asyncio


async def test_outside_kopfs_handlers_the_event_is_posted_as_kopf_would() -> None:
    kube = FakeKube()
    recorder = KopfRecorder()
    recorder.bind(kube)
    user = {
        "apiVersion": "racetrack.io/v1alpha1",
        "kind": "User",
        "metadata": {"name": "alice", "namespace": None, "uid": "u-1"},
    }
    recorder.post(user, "Normal", "TokenIssued", "Issued a token into Secret x/y.")
    await asyncio.sleep(0.01)
    (path,) = kube.objects
    assert path.startswith("/api/v1/namespaces/default/events/racetrack-operator-")
    event = kube.objects[path]
    assert event["involvedObject"] == {
        "apiVersion": "racetrack.io/v1alpha1",
        "kind": "User",
        "name": "alice",
        "uid": "u-1",
    }
    assert (event["type"], event["reason"]) == ("Normal", "TokenIssued")
    assert event["source"]["component"] == event["reportingComponent"] == SOURCE
