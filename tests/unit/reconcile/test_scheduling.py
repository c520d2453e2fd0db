"""The reconciler's scheduling helpers: per-key locks, retries, coalesced family syncs."""

from __future__ import annotations

import asyncio

from racetrack_operator.reconcile.coalesce import Coalescer
from racetrack_operator.reconcile.locks import KeyedLocks
from racetrack_operator.reconcile.requeue import Requeue


def test_keyed_locks_serialise_per_key_and_forget_idle_keys() -> None:
    locks = KeyedLocks()
    order: list[str] = []

    async def work(key: str, tag: str) -> None:
        async with locks.hold(key):
            order.append(f"{tag}-in")
            await asyncio.sleep(0)
            order.append(f"{tag}-out")

    async def main() -> None:
        await asyncio.gather(work("a", "1"), work("a", "2"), work("b", "3"))

    asyncio.run(main())
    assert order.index("1-out") < order.index("2-in")
    assert len(locks) == 0


def test_requeue_keeps_the_earliest_and_backs_off() -> None:
    ran: list[str] = []

    async def main() -> None:
        requeue = Requeue()

        async def work(tag: str) -> None:
            ran.append(tag)

        requeue.schedule("k", 0.05, lambda: work("late"))
        requeue.schedule("k", 0.0, lambda: work("early"))
        requeue.schedule("k", 0.05, lambda: work("later"))
        await asyncio.sleep(0.1)
        assert [requeue.backoff("k") for _ in range(8)] == [1, 2, 4, 8, 16, 32, 60, 60]
        requeue.succeeded("k")
        assert requeue.backoff("k") == 1
        requeue.schedule("gone", 0.0, lambda: work("cancelled"))
        requeue.cancel("gone")
        await asyncio.sleep(0.01)

    asyncio.run(main())
    assert ran == ["early"]


def test_coalescer_merges_bursts_and_reruns_when_requested_meanwhile() -> None:
    runs: list[object] = []

    async def main() -> None:
        gate = asyncio.Event()

        async def work(key: object) -> None:
            runs.append(key)
            await gate.wait()

        coalescer = Coalescer(work, delay=0.01)
        for _ in range(5):
            coalescer.request("fam")
        await asyncio.sleep(0.05)
        assert runs == ["fam"]  # five requests, one run so far
        coalescer.request("fam")  # while running: one more run afterwards
        gate.set()
        await coalescer.drain()

    asyncio.run(main())
    assert runs == ["fam", "fam"]


def test_an_attempt_that_fails_runs_again_later_until_it_succeeds() -> None:
    calls: list[str] = []

    async def main() -> Requeue:
        requeue = Requeue()

        async def first() -> None:
            calls.append("first")
            raise RuntimeError("the API server is away")

        async def again() -> None:
            calls.append("again")
            if calls.count("again") < 2:
                raise RuntimeError("still away")

        await requeue.attempt("k", first, "Doing k", again)
        async with asyncio.timeout(10):
            while calls.count("again") < 2:  # noqa: ASYNC110 - the retries run on timers
                await asyncio.sleep(0.05)
        return requeue

    requeue = asyncio.run(main())
    assert calls == ["first", "again", "again"]
    assert requeue.backoff("k") == 1.0  # the success reset the backoff
