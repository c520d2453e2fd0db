"""Run background work per key, merging requests that arrive while it is queued or running.

A family's status depends on all its Jobs; when ten of them turn Ready within a second, one
sync after the burst says the same as ten. Requests are fire-and-forget, so the Job handlers
never wait for family bookkeeping; a failed run is retried with backoff and logged. Failures
the world will mend (``transient``: the API server is down) are retried for as long as it
takes, at most ``max_delay`` apart, or a family would keep the status of before an outage;
others are given up after ``retries``.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Awaitable, Callable, Hashable

log = logging.getLogger(__name__)


class _State(enum.Enum):
    QUEUED = "queued"
    RUNNING = "running"
    DIRTY = "dirty"  # running, and requested again meanwhile


class Coalescer:
    def __init__(
        self,
        work: Callable[[Hashable], Awaitable[None]],
        *,
        delay: float = 0.2,
        retries: int = 5,
        transient: Callable[[Exception], bool] = lambda _: False,
        max_delay: float = 30.0,
    ) -> None:
        self._work = work
        self._delay = delay
        self._retries = retries
        self._transient = transient
        self._max_delay = max_delay
        self._state: dict[Hashable, _State] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def request(self, key: Hashable) -> None:
        state = self._state.get(key)
        if state is None:
            self._state[key] = _State.QUEUED
            task = asyncio.get_running_loop().create_task(self._run(key))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        elif state is _State.RUNNING:
            self._state[key] = _State.DIRTY

    async def _run(self, key: Hashable) -> None:
        failures = 0
        try:
            await asyncio.sleep(self._delay)
            while True:
                self._state[key] = _State.RUNNING
                try:
                    await self._work(key)
                    failures = 0
                except Exception as error:
                    failures += 1
                    log.exception("Background sync of %s failed (attempt %d).", key, failures)
                    if failures > self._retries and not self._transient(error):
                        return
                    await asyncio.sleep(min(self._max_delay, self._delay * 2 ** min(failures, 16)))
                    continue
                if self._state.get(key) is not _State.DIRTY:
                    return
                await asyncio.sleep(self._delay)
        finally:
            self._state.pop(key, None)

    async def drain(self) -> None:
        """Wait for everything requested so far (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def cancel(self) -> None:
        for task in list(self._tasks):
            task.cancel()

    def __len__(self) -> int:
        return len(self._state)
