"""The Jobs' work queue: what waits, what is merged, and what runs at once."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from racetrack_operator.reconcile.jobqueue import JobQueue, Key

pytestmark = pytest.mark.asyncio

A = ("ml", "adder-v1-0-0")
B = ("ml", "adder-v2-0-0")


class Recorder:
    """Records what it is handed; a key in ``gates`` waits for its gate to open."""

    def __init__(self) -> None:
        self.handled: list[tuple[Key, str, Any]] = []
        self.running: set[Key] = set()
        self.most_at_once = 0
        self.gates: dict[Key, asyncio.Event] = {}
        self.started: dict[Key, asyncio.Event] = {}
        self.start_order: list[Key] = []

    async def __call__(self, key: Key, event_type: str, body: dict[str, Any]) -> None:
        assert key not in self.running, f"{key} on two workers at once"
        self.running.add(key)
        self.most_at_once = max(self.most_at_once, len(self.running))
        self.started.setdefault(key, asyncio.Event()).set()
        self.start_order.append(key)
        try:
            if key in self.gates:
                await self.gates[key].wait()
            if body.get("fail"):
                raise RuntimeError("the handler failed")
            self.handled.append((key, event_type, body.get("n")))
        finally:
            self.running.discard(key)


async def drained(queue: JobQueue) -> None:
    await asyncio.wait_for(queue.drain(), timeout=5)
    queue.cancel()


async def test_a_newer_event_replaces_the_one_still_waiting() -> None:
    handle = Recorder()
    queue = JobQueue(handle, workers=4)
    for n in range(3):
        queue.add(A, "MODIFIED", {"n": n})
    assert len(queue) == 1
    queue.start()
    await drained(queue)
    assert handle.handled == [(A, "MODIFIED", 2)]


async def test_a_deletion_replaces_what_waited_but_is_never_merged_away() -> None:
    """A Job deleted before its turn is not deployed; one deleted and made again under its
    name is forgotten before the new one is reconciled."""
    handle = Recorder()
    queue = JobQueue(handle, workers=4)
    queue.add(A, "ADDED", {"n": 1})
    queue.add(A, "MODIFIED", {"n": 2})
    queue.add(A, "DELETED", {"n": 3})
    queue.add(A, "ADDED", {"n": 4})
    queue.add(A, "MODIFIED", {"n": 5})
    queue.start()
    await drained(queue)
    assert handle.handled == [(A, "DELETED", 3), (A, "MODIFIED", 5)]


async def test_an_event_while_its_job_is_handled_waits_for_it_then_runs_with_the_newest() -> None:
    handle = Recorder()
    handle.gates[A] = asyncio.Event()
    queue = JobQueue(handle, workers=4)
    queue.start()
    queue.add(A, "ADDED", {"n": 1})
    await asyncio.wait_for(handle.started.setdefault(A, asyncio.Event()).wait(), timeout=5)
    queue.add(A, "MODIFIED", {"n": 2})
    queue.add(A, "MODIFIED", {"n": 3})
    queue.add(B, "ADDED", {"n": 9})
    await asyncio.sleep(0.05)  # three idle workers: B runs, A's next event does not
    assert handle.handled == [(B, "ADDED", 9)]
    handle.gates[A].set()
    await drained(queue)
    assert handle.handled == [(B, "ADDED", 9), (A, "ADDED", 1), (A, "MODIFIED", 3)]


async def test_no_more_jobs_are_handled_at_once_than_there_are_workers() -> None:
    handle = Recorder()
    gate = asyncio.Event()
    keys = [("ml", f"job-{n}") for n in range(10)]
    for key in keys:
        handle.gates[key] = gate
    queue = JobQueue(handle, workers=3)
    queue.start()
    for key in keys:
        queue.add(key, "ADDED", {})
    await asyncio.sleep(0.05)
    assert len(handle.running) == 3
    assert len(queue) == 7
    gate.set()
    await drained(queue)
    assert handle.most_at_once == 3
    assert handle.start_order == keys  # first asked, first served


async def test_a_failing_event_is_logged_and_the_workers_go_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    handle = Recorder()
    queue = JobQueue(handle, workers=1)
    queue.start()
    queue.add(A, "ADDED", {"fail": True})
    queue.add(B, "ADDED", {"n": 2})
    await asyncio.wait_for(queue.drain(), timeout=5)
    queue.add(A, "MODIFIED", {"n": 3})
    await drained(queue)
    assert handle.handled == [(B, "ADDED", 2), (A, "MODIFIED", 3)]
    assert "Handling the ADDED event of Job ml/adder-v1-0-0 failed." in caplog.text
