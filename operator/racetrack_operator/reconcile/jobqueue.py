"""The Jobs' work queue: the Job watch hands every event over and is free at once.

kopf gives each object a worker, and a worker holds one of a bounded number of slots while
its handler runs. When the Job handler reconciled in the worker, a backlog of thousands of
Jobs kept every slot waiting on the API server, and each Job's later events (the echoes of
its own status writes, a whole decoded Job each) piled up in kopf's queue meanwhile: after
5,000 Jobs converged that queue was the largest thing the operator held.

So, as controller-runtime's work queue does, this keeps at most what is still to be done
per Job: a newer event replaces a waiting one, since a reconciliation reads the newest state
anyway (it is level-triggered), and a deletion replaces whatever waited (a Job deleted before
its turn is never deployed); but a deletion is never merged away, so a Job deleted and made
again under its name is forgotten before the new one is reconciled. ``workers`` tasks take
Jobs in the order they first asked, one Job never on two workers, which bounds the bodies
and tasks in flight as kopf's slots did.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

log = logging.getLogger(__name__)

Key = tuple[str, str]
DELETED = "DELETED"
Handle = Callable[[Key, str, dict[str, Any]], Awaitable[None]]


class JobQueue:
    def __init__(self, handle: Handle, workers: int) -> None:
        self._handle = handle
        self._workers = workers
        # Events still to handle by Job, oldest first: at most a deletion and what came after.
        self._pending: dict[Key, list[tuple[str, dict[str, Any]]]] = {}
        self._ready: asyncio.Queue[Key] = asyncio.Queue()
        self._running: set[Key] = set()
        self._tasks: list[asyncio.Task[None]] = []

    def add(self, key: Key, event_type: str, body: dict[str, Any]) -> None:
        events = self._pending.get(key)
        if events is None:
            self._pending[key] = [(event_type, body)]
            if key not in self._running:
                self._ready.put_nowait(key)
        elif events[-1][0] == DELETED and event_type != DELETED:
            events.append((event_type, body))  # made again under its name: after the deletion
        else:
            events[-1] = (event_type, body)

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._work()) for _ in range(self._workers)]

    def cancel(self) -> None:
        for task in self._tasks:
            task.cancel()

    async def drain(self) -> None:
        """Wait until every event added so far is handled (tests)."""
        await self._ready.join()

    def waiting(self, key: Key) -> bool:
        """Whether the Job has events waiting and none being handled."""
        return key in self._pending and key not in self._running

    def __len__(self) -> int:
        """Jobs with events waiting (those being handled not counted)."""
        return len(self._pending)

    async def _work(self) -> None:
        while True:
            key = await self._ready.get()
            events = self._pending.pop(key)
            self._running.add(key)
            try:
                for event_type, body in events:
                    try:
                        await self._handle(key, event_type, body)
                    except Exception:
                        log.exception(
                            "Handling the %s event of Job %s/%s failed.", event_type, *key
                        )
            finally:
                self._running.discard(key)
                if key in self._pending:
                    self._ready.put_nowait(key)
                self._ready.task_done()
