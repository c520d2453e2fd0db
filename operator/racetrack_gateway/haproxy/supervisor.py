"""Running HAProxy, or finding the one that runs, and noticing when it is replaced.

With ``RACETRACK_GATEWAY_HAPROXY`` naming a binary the agent owns HAProxy: before every
start it writes the configuration and every table from what it knows *now*, so a HAProxy
that died comes back with fresh tables, not the ones it was first started with. An HAProxy
already answering on the socket (left by an agent that was killed) is adopted, not
replaced: calls keep flowing while the new agent resyncs it. HAProxy runs in its own
session, so a signal to the agent's process group never reaches it.

With ``external`` another container runs HAProxy from the files the agent keeps in the
shared folder; the agent watches ``show info`` and treats a new process id or an uptime
that went backwards as a new HAProxy, which it then resyncs in full.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from racetrack_gateway.haproxy.runtime import Runtime
from racetrack_gateway.settings import Settings

log = logging.getLogger(__name__)

START_TIMEOUT = 30.0
MAX_BACKOFF = 30.0
POLL_SECONDS = 0.5


class Supervisor:
    def __init__(
        self,
        settings: Settings,
        runtime: Runtime,
        write_files: Callable[[], None],
        started_fresh: Callable[[], Awaitable[None]],
        found_running: Callable[[], Awaitable[None]],
        log_path: Path | None = None,
        lock: asyncio.Lock | None = None,
    ) -> None:
        """``write_files`` renders every file from the current tables; ``started_fresh`` is
        told after a start from those files, ``found_running`` after finding an HAProxy whose
        tables are unknown (adopted, or started by another container). ``lock`` is held from
        writing the files until ``started_fresh`` returns, so no push interleaves."""
        self.settings = settings
        self.runtime = runtime
        self.write_files = write_files
        self.started_fresh = started_fresh
        self.found_running = found_running
        self.log_path = log_path
        self.lock = lock or asyncio.Lock()
        self.process: asyncio.subprocess.Process | None = None
        self.pid: int | None = None
        self.starts = 0
        self._identity: tuple[str, int] | None = None

    async def run(self) -> None:
        """Keep HAProxy running (or watched) until cancelled."""
        failures = 0
        try:
            while True:
                if self.settings.external_haproxy:
                    await self._watch_external()
                    continue
                if await self.runtime.answers():
                    info = await self.runtime.info()
                    self.pid = int(info.get("Pid", "0")) or None
                    log.info("Adopted the HAProxy already running (pid %s).", self.pid)
                    await self.found_running()
                else:
                    async with self.lock:
                        try:
                            await self._start()
                        except (OSError, RuntimeError) as error:
                            failures += 1
                            delay = min(MAX_BACKOFF, 0.5 * 2**failures)
                            log.error(
                                "Starting HAProxy failed (%s); retrying in %.1f s.", error, delay
                            )
                        else:
                            failures = 0
                            await self.started_fresh()
                    if failures:
                        await asyncio.sleep(delay)
                        continue
                await self._wait_until_gone()
                log.warning(
                    "HAProxy (pid %s) is gone; starting it again from fresh tables.", self.pid
                )
        finally:
            if not self.settings.external_haproxy and self.pid is not None:
                await self.stop()

    async def stop(self, grace: float = 10.0) -> None:
        """Soft-stop the HAProxy we run: it finishes the calls in flight, then exits."""
        pid = self.pid
        if pid is None or self.settings.external_haproxy:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGUSR1)
        deadline = time.monotonic() + grace
        # An adopted HAProxy is not our child: there is nothing to wait on but its pid.
        while _alive(pid, self.process) and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        with contextlib.suppress(ProcessLookupError):
            if _alive(pid, self.process):
                os.kill(pid, signal.SIGKILL)
        if self.process is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.process.wait(), 5)

    def command(self) -> list[str]:
        config = str(self.settings.run_dir / "haproxy.cfg")
        argv = [self.settings.haproxy, "-db", "-f", config]
        if self.settings.haproxy_netns:
            argv = ["nsenter", f"--net={self.settings.haproxy_netns}", "--", *argv]
        return argv

    async def _start(self) -> None:
        self.write_files()
        # A configuration HAProxy refuses is a bug of ours: say so rather than crash-loop.
        check = await asyncio.create_subprocess_exec(
            self.settings.haproxy, "-c", "-q", "-f", str(self.settings.run_dir / "haproxy.cfg"),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        output, _ = await check.communicate()
        if check.returncode != 0:
            text = output.decode(errors="replace").strip()[-2000:]
            raise RuntimeError(f"haproxy -c refused the configuration: {text}")
        log_file = self.log_path.open("ab") if self.log_path else None
        try:
            self.process = await asyncio.create_subprocess_exec(
                *self.command(),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log_file,
                stderr=asyncio.subprocess.STDOUT if log_file else None,
                # Its own session: a signal to the agent's process group must not stop it.
                start_new_session=True,
            )
        finally:
            if log_file is not None:
                log_file.close()
        self.starts += 1
        deadline = time.monotonic() + START_TIMEOUT
        while not await self.runtime.answers():
            if self.process.returncode is not None:
                raise RuntimeError(f"HAProxy exited with code {self.process.returncode} at start")
            if time.monotonic() > deadline:
                raise RuntimeError("HAProxy's runtime socket did not answer within 30 s")
            await asyncio.sleep(0.05)
        info = await self.runtime.info()
        self.pid = int(info.get("Pid", "0")) or self.process.pid
        log.info("Started HAProxy (pid %s) from freshly rendered tables.", self.pid)

    async def _wait_until_gone(self) -> None:
        misses = 0
        while True:
            await asyncio.sleep(POLL_SECONDS)
            if self.process is not None and self.process.returncode is not None:
                log.warning("HAProxy exited with code %s.", self.process.returncode)
                self.process = None
                return
            if self.pid is not None and not _alive(self.pid, self.process):
                self.process = None
                return
            # A process that lives but no longer answers is as good as gone.
            misses = 0 if await self.runtime.answers() else misses + 1
            if misses >= 10 and self.pid is not None:
                log.error("HAProxy (pid %s) stopped answering; replacing it.", self.pid)
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.pid, signal.SIGKILL)

    async def _watch_external(self) -> None:
        while True:
            with contextlib.suppress(Exception):
                info = await self.runtime.info()
                identity = (info.get("Pid", ""), int(info.get("Uptime_sec", "0")))
                previous, self._identity = self._identity, identity
                if previous is None or previous[0] != identity[0] or identity[1] < previous[1]:
                    log.info("Found HAProxy (pid %s); syncing its tables.", identity[0])
                    await self.found_running()
            await asyncio.sleep(1.0)


def _alive(pid: int, process: asyncio.subprocess.Process | None) -> bool:
    if process is not None:
        return process.returncode is None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child of ours counts as gone.
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
