"""The limiter: slots, queue, 429 at once, timeouts that keep the slot of a stuck thread."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from racetrack_job_runtime.concurrency import CallLimiter, CallTimeout, Overloaded


async def wait_until(condition: Any) -> None:
    for _ in range(500):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition never became true")


@pytest.mark.asyncio
async def test_queue_full_is_refused_at_once_and_slots_free_up() -> None:
    limiter = CallLimiter(max_concurrency=1, max_queue=1, timeout=None, worker_threads=4)
    gate = threading.Event()
    try:
        first = asyncio.ensure_future(limiter.call(gate.wait, {"timeout": 30}, False))
        await wait_until(lambda: limiter.running == 1)
        second = asyncio.ensure_future(limiter.call(lambda: "second", {}, False))
        await wait_until(lambda: limiter.waiting == 1)
        with pytest.raises(Overloaded, match="1 call\\(s\\) at once with a queue of 1"):
            await limiter.call(lambda: "third", {}, False)
        gate.set()
        assert await first is True
        assert await second == "second"
        assert (limiter.active, limiter.running) == (0, 0)
    finally:
        gate.set()
        limiter.shutdown()


@pytest.mark.asyncio
async def test_queue_zero_refuses_whenever_all_slots_are_busy() -> None:
    limiter = CallLimiter(max_concurrency=1, max_queue=0, timeout=None, worker_threads=1)
    gate = asyncio.Event()

    async def hold() -> str:
        await gate.wait()
        return "held"

    task = asyncio.ensure_future(limiter.call(hold, {}, True))
    await wait_until(lambda: limiter.running == 1)
    with pytest.raises(Overloaded):
        await limiter.call(hold, {}, True)
    gate.set()
    assert await task == "held"
    limiter.shutdown()


@pytest.mark.asyncio
async def test_timed_out_thread_keeps_its_slot_until_it_returns() -> None:
    limiter = CallLimiter(max_concurrency=1, max_queue=0, timeout=0.05, worker_threads=1)
    gate = threading.Event()
    try:
        with pytest.raises(CallTimeout, match=r"did not finish within 0\.05 s"):
            await limiter.call(gate.wait, {"timeout": 30}, False)
        assert limiter.running == 1  # the thread is still inside user code
        with pytest.raises(Overloaded):
            await limiter.call(lambda: 1, {}, False)
        gate.set()
        await wait_until(lambda: limiter.running == 0)
        assert await limiter.call(lambda: 1, {}, False) == 1
    finally:
        gate.set()
        limiter.shutdown()


@pytest.mark.asyncio
async def test_async_calls_time_out_too() -> None:
    limiter = CallLimiter(max_concurrency=0, max_queue=None, timeout=0.05, worker_threads=1)
    with pytest.raises(CallTimeout):
        await limiter.call(asyncio.sleep, {"delay": 30}, True)
    assert limiter.active == 0
    limiter.shutdown()


@pytest.mark.asyncio
async def test_user_exceptions_propagate_and_release_the_slot() -> None:
    limiter = CallLimiter(max_concurrency=1, max_queue=0, timeout=None, worker_threads=1)

    def boom() -> None:
        raise ValueError("bad input")

    with pytest.raises(ValueError, match="bad input"):
        await limiter.call(boom, {}, False)
    await wait_until(lambda: limiter.active == 0)
    assert await limiter.call(lambda: 2, {}, False) == 2
    limiter.shutdown()
