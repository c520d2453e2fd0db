"""Child processes of a local cluster: ports, spawning, and stopping only what we started.

Every component is spawned by us with ``PR_SET_PDEATHSIG``, so if the launching process dies
without a chance to clean up (``kill -9``, a crashed test run) the kernel takes the components
down with it instead of leaving orphans bound to ports. The kernel ties that signal to the
*thread* that spawned the child: whatever restarts components (:mod:`.healing`) must be a
thread that lives as long as the cluster.

A component knows what it needs running first (``needs``) and how to tell that it serves
(``probe``), so the healer can restart it in dependency order and the chaos tests can tell
when it is back.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import random
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

Probe = Callable[[], bool]


class Spawn(Protocol):
    """How a part of the launcher starts a process that belongs to the cluster."""

    def __call__(
        self,
        name: str,
        argv: list[str],
        env: dict[str, str] | None = None,
        *,
        needs: tuple[str, ...] = (),
        probe: Probe | None = None,
        restart_with: tuple[str, ...] = (),
        before_restart: Callable[[], None] | None = None,
    ) -> Component: ...


# Ports above 32767 collide with the kernel's ephemeral range (outgoing connections), which
# was seen to steal a component's port under load; stay below it.
_PORT_RANGE = (20000, 32000)
_PR_SET_PDEATHSIG = 1


class ComponentError(RuntimeError):
    """A component could not start or stopped working; the message names it and its log."""


class PortInUseError(ComponentError):
    pass


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # As every component does (Go's listeners, Python's HTTP servers): connections that
        # a stopped component closed linger in TIME_WAIT and must not make its port look taken.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@dataclass
class PortAllocator:
    """Hands out distinct free loopback ports outside the ephemeral range."""

    taken: set[int] = field(default_factory=set)

    def claim(self, component: str, wanted: int | None = None) -> int:
        if wanted is not None:
            if wanted in self.taken or not port_is_free(wanted):
                raise PortInUseError(
                    f"port {wanted} for {component} is already in use on 127.0.0.1; "
                    "choose another port or stop whatever listens there"
                )
            self.taken.add(wanted)
            return wanted
        return self._any(component)

    def reclaim(self, component: str, previous: int | None) -> int:
        """The port a stopped cluster used (its kubeconfigs name it) if it is still free,
        else another one."""
        if previous is not None and previous not in self.taken and port_is_free(previous):
            self.taken.add(previous)
            return previous
        return self._any(component)

    def _any(self, component: str) -> int:
        for _ in range(200):
            port = random.randrange(*_PORT_RANGE)
            if port not in self.taken and port_is_free(port):
                self.taken.add(port)
                return port
        raise PortInUseError(f"no free loopback port found for {component}")


def _die_with_parent() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


@dataclass
class Component:
    """One child process, where its output goes, and what it needs to run."""

    name: str
    argv: list[str]
    log_path: Path
    #: Extra environment variables on top of ours (None: inherit ours unchanged).
    env: dict[str, str] | None = None
    #: Components that must be ready before this one starts again (etcd for the API server).
    needs: tuple[str, ...] = ()
    #: Whether it serves; None means running is enough.
    probe: Probe | None = None
    #: Components whose restart restarts this one too (see :mod:`.healing`).
    restart_with: tuple[str, ...] = ()
    #: Called before every start but the first, e.g. to hand over what the dead process held.
    before_restart: Callable[[], None] | None = None
    process: subprocess.Popen[bytes] | None = None
    #: ``time.monotonic()`` of the last start.
    started_at: float = 0.0

    def start(self, *, append: bool = False) -> None:
        """Start the process; ``append`` keeps the log of earlier runs (a restart)."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab" if append else "wb") as log:
            self.process = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, **self.env} if self.env is not None else None,
                preexec_fn=_die_with_parent,
            )
        self.started_at = time.monotonic()

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    @property
    def returncode(self) -> int | None:
        """The exit status once it has exited (negative: killed by that signal), else None."""
        return self.process.poll() if self.process is not None else None

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def ready(self) -> bool:
        """Running, and its probe (if any) answers."""
        if not self.running():
            return False
        if self.probe is None:
            return True
        try:
            return self.probe()
        except Exception:
            return False

    def check_alive(self) -> None:
        """Raise a one-line error naming the component and its log if it has exited."""
        if self.process is not None and self.process.poll() is not None:
            raise ComponentError(
                f"{self.name} exited with code {self.process.returncode}: "
                f"{last_log_line(self.log_path)} (log: {self.log_path})"
            )

    def kill(self) -> None:
        """SIGKILL, no clean-up: how a crash, the OOM killer or a chaos test ends a process."""
        if self.running():
            assert self.process is not None
            self.process.kill()
            self.process.wait()

    def stop(self, grace_seconds: float = 10.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=grace_seconds)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=grace_seconds)


def exit_code(returncode: int) -> int:
    """A process's exit code as a container runtime reports it: 128 + N when killed by signal
    N (``kill -9`` is 137, as ``kubectl describe pod`` shows it)."""
    return 128 - returncode if returncode < 0 else returncode


def describe_exit(returncode: int) -> str:
    """``137 (SIGKILL)``, ``1``: an exit code, with the signal's name when there was one."""
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return f"{exit_code(returncode)} ({name})"
    return str(returncode)


def resident_mib(pid: int) -> float:
    """A process's resident memory in MiB (0 when it is gone), for the benchmarks."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def last_log_line(path: Path) -> str:
    with contextlib.suppress(OSError):
        lines = [line.strip() for line in path.read_text(errors="replace").splitlines()]
        lines = [line for line in lines if line]
        if lines:
            return lines[-1][:300]
    return "no output"


def wait_until(
    what: str,
    condition: Callable[[], bool],
    timeout: float,
    watched: list[Component],
    interval: float = 0.05,
) -> None:
    """Poll ``condition`` until true; fail early, naming the component, if one exits."""
    deadline = time.monotonic() + timeout
    while True:
        for component in watched:
            component.check_alive()
        with contextlib.suppress(Exception):
            if condition():
                return
        if time.monotonic() > deadline:
            names = ", ".join(f"{c.name} (log: {c.log_path})" for c in watched)
            raise ComponentError(f"timed out after {timeout:.0f} s waiting for {what}; see {names}")
        time.sleep(interval)
