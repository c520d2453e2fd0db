"""Bounded concurrency, a bounded queue and a timeout for calls into user code.

Semantics follow the original wrapper's ``max_concurrency`` / ``max_concurrency_queue``:
at most ``max_concurrency`` calls run at once (0 = unlimited); ``active`` counts calls that
run or wait; when ``max_concurrency_queue`` is set and ``active >= max_concurrency +
queue`` a new call is refused at once (``Overloaded`` -> 429). One limiter is shared by
``perform`` and auxiliary endpoints, as before.

Sync user functions run in a thread pool so the event loop keeps answering probes and
metrics. A Python thread cannot be killed, so a timed-out call (``CallTimeout`` -> 504)
keeps its slot until its thread really returns: the limit bounds the user code actually
running, not just the requests still waiting for an answer. With a limit, the pool has
exactly ``max_concurrency`` threads; without one, ``worker_threads``.

The thread hand-off is one ``call_soon_threadsafe`` per call and the timeout one timer
handle (no ``wait_for``/``shield`` tasks): this is the hot path of every request.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import contextvars
import functools
import inspect
from collections.abc import Callable, Mapping
from typing import Any


class Overloaded(Exception):
    """All slots are busy and the queue is full."""


class CallTimeout(Exception):
    """The call did not finish within the timeout."""


class CallLimiter:
    def __init__(
        self,
        max_concurrency: int,
        max_queue: int | None,
        timeout: float | None,
        worker_threads: int,
    ) -> None:
        self.max_concurrency = max_concurrency
        self.max_queue = max_queue
        self.timeout = timeout
        self.active = 0
        self.running = 0
        self._semaphore = asyncio.Semaphore(max_concurrency) if max_concurrency else None
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=max_concurrency or worker_threads, thread_name_prefix="job-call"
        )

    @property
    def waiting(self) -> int:
        return self.active - self.running

    def overload_message(self) -> str:
        return (
            f"too many requests: the job runs {self.max_concurrency} call(s) at once "
            f"with a queue of {self.max_queue}, and both are full"
        )

    async def call(
        self, func: Callable[..., Any], kwargs: Mapping[str, Any], is_async: bool
    ) -> Any:
        """Run ``func(**kwargs)`` under the limits; raise ``Overloaded`` or ``CallTimeout``."""
        semaphore = self._semaphore
        full = self.max_queue is not None and self.active >= self.max_concurrency + self.max_queue
        if semaphore is not None and full:
            raise Overloaded(self.overload_message())
        self.active += 1
        if semaphore is not None:
            try:
                await semaphore.acquire()
            except BaseException:
                self.active -= 1
                raise
        self.running += 1
        if is_async:
            try:
                async with asyncio.timeout(self.timeout):
                    return await func(**kwargs)
            except TimeoutError:
                raise CallTimeout(self._timeout_message()) from None
            finally:
                self._release()
        result = await self._in_thread(func, kwargs)
        if inspect.isawaitable(result):
            return await result
        return result

    async def _in_thread(self, func: Callable[..., Any], kwargs: Mapping[str, Any]) -> Any:
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[Any] = loop.create_future()
        context = contextvars.copy_context()
        try:
            job = self._executor.submit(context.run, functools.partial(func, **kwargs))
        except BaseException:
            self._release()
            raise

        def finish(done: concurrent.futures.Future[Any]) -> None:
            self._release()
            if waiter.done():
                return
            error = done.exception()
            if error is None:
                waiter.set_result(done.result())
            else:
                waiter.set_exception(error)

        def on_done(done: concurrent.futures.Future[Any]) -> None:
            # The loop may be closed during shutdown; nobody is waiting then.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(finish, done)

        job.add_done_callback(on_done)
        timer = None
        if self.timeout is not None:
            timer = loop.call_later(self.timeout, self._expire, waiter)
        try:
            return await waiter
        finally:
            if timer is not None:
                timer.cancel()

    def _expire(self, waiter: asyncio.Future[Any]) -> None:
        if not waiter.done():
            waiter.set_exception(CallTimeout(self._timeout_message()))

    def _timeout_message(self) -> str:
        return f"the call did not finish within {self.timeout:g} s (JOB_PERFORM_TIMEOUT)"

    def _release(self) -> None:
        self.active -= 1
        self.running -= 1
        if self._semaphore is not None:
            self._semaphore.release()

    def shutdown(self) -> None:
        """Stop accepting work; threads still running user code are left to finish or die."""
        self._executor.shutdown(wait=False, cancel_futures=True)
