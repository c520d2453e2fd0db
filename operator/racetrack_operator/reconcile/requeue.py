"""Run a reconciliation again later: for a Job waiting on the world, or after an error.

Our Job handler is a watch handler (see ``reconcile.jobwatch``), which kopf does not retry, so the
retry policy lives here: one pending retry per key (the earliest wins), exponential backoff
for errors, reset by a success. The caller caps the backoff lower while the API server is
unavailable (``Settings.api_retry_seconds``): a Job that failed a dozen times during an
outage must not wait a minute more once the API server is back.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Hashable

log = logging.getLogger(__name__)

MAX_BACKOFF = 60.0


class Requeue:
    def __init__(self) -> None:
        self._pending: dict[Hashable, tuple[float, asyncio.Task[None]]] = {}
        self._failures: dict[Hashable, int] = {}

    def schedule(self, key: Hashable, delay: float, work: Callable[[], Awaitable[None]]) -> None:
        loop = asyncio.get_running_loop()
        due = loop.time() + delay
        pending = self._pending.get(key)
        if pending is not None:
            if pending[0] <= due:
                return
            pending[1].cancel()
        task = loop.create_task(self._later(key, delay, work))
        self._pending[key] = (due, task)

    async def _later(
        self, key: Hashable, delay: float, work: Callable[[], Awaitable[None]]
    ) -> None:
        await asyncio.sleep(delay)
        self._pending.pop(key, None)
        await work()

    async def attempt(
        self,
        key: Hashable,
        work: Callable[[], Awaitable[None]],
        what: str,
        again: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        """Run ``work`` for a watch handler, which kopf does not retry: on an error, log
        ``what`` failed and run ``again`` (default: ``work``) later, with backoff."""
        try:
            await work()
        except Exception:
            delay = self.backoff(key)
            log.exception("%s failed; retrying in %.0f s.", what, delay)
            retry = again or work
            self.schedule(key, delay, lambda: self.attempt(key, retry, what))
            return
        self.succeeded(key)

    def backoff(self, key: Hashable, cap: float = MAX_BACKOFF) -> float:
        """The delay before the next retry after a failure, growing with each one."""
        failures = self._failures.get(key, 0) + 1
        self._failures[key] = failures
        return float(min(cap, 2 ** min(failures - 1, 16)))

    def succeeded(self, key: Hashable) -> None:
        self._failures.pop(key, None)

    def pending(self, key: Hashable) -> bool:
        return key in self._pending

    def cancel(self, key: Hashable) -> None:
        self._failures.pop(key, None)
        pending = self._pending.pop(key, None)
        if pending is not None:
            pending[1].cancel()

    def cancel_all(self) -> None:
        for key in list(self._pending):
            self.cancel(key)
