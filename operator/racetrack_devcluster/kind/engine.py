"""A Docker engine of our own for kind: Debian's dockerd on private paths, started and
stopped by us, never touching a Docker the machine may run.

- **Paths**: data root, pidfile and log under the kind state folder; the API socket and the
  exec root (where dockerd's containerd keeps its sockets) under ``/run/racetrack/kind-<id>``,
  because Unix socket paths are limited to 108 bytes and a state folder can be deep. The
  client is pointed at it with ``DOCKER_HOST``; ``/var/run/docker.sock`` is never created.
- **The host's network is left alone**: ``--iptables=false`` (no FORWARD policy change, no
  DOCKER chains, no NAT), ``--ip-forward=false`` (the sysctl stays as it is),
  ``--ip-masq=false``, ``--bridge=none`` (no docker0). kind's node containers talk to each
  other and to the host over kind's bridge network; a published port (the API server's)
  is served by Docker's userland proxy on 127.0.0.1. Nothing in the kind nodes needs to
  leave the machine (every image is preloaded).
- **Capabilities**: the runtime is :mod:`.runc_shim` (runc minus what the bounding set
  lacks), so kind's privileged node containers start where root runs without some.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from racetrack_devcluster.devstate import process_start_ticks
from racetrack_devcluster.realnode import cleanup, detect
from racetrack_devcluster.realnode.containerd import SOCKET_ROOT

DOCKERD = "/usr/sbin/dockerd"
#: Debian's client, matching its engine (a newer client elsewhere on PATH also works).
DOCKER_CLIENT = "/usr/bin/docker"
RUNTIME_NAME = "racetrack-runc"
SHIM_SOURCE = Path(__file__).parent / "runc_shim.py"
START_TIMEOUT = 90.0
STOP_TIMEOUT = 60.0

Progress = Callable[[str], None]


class EngineError(RuntimeError):
    """Our dockerd could not be started or stopped; the message says why and where the log is."""


@dataclass(frozen=True)
class Support:
    ok: bool
    reason: str = ""


def check(geteuid: Callable[[], int] = os.geteuid) -> Support:
    """Can a Docker engine run here? The reasons a user can act on, first to last."""
    if geteuid() != 0:
        return Support(False, "a Docker engine needs root")
    if not Path(DOCKERD).exists():
        return Support(
            False, "Debian's docker.io is not installed (install with: racetrack dev prereqs)"
        )
    if not detect.overlay_supported(Path("/proc/filesystems").read_text()):
        return Support(False, "the kernel has no overlay filesystem (Docker's storage driver)")
    controllers = detect.missing_controllers(
        _read("/proc/cgroups"), _read("/sys/fs/cgroup/cgroup.controllers") or None
    )
    if controllers:
        return Support(False, f"cgroup controllers not enabled: {', '.join(controllers)}")
    return Support(True)


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def still_running(pid: int, start_ticks: int | None) -> bool:
    """Whether ``pid`` is still the process that started at ``start_ticks`` and has not exited.

    A process we started ourselves stays a zombie until reaped, with the same start time;
    it is reaped here, and a zombie counts as stopped.
    """
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    fields = stat.rsplit(")", 1)[1].split()
    return fields[0] != "Z" and int(fields[19]) == start_ticks


def dockerd_argv(engine: DockerEngine) -> list[str]:
    """The command line of our dockerd (pure over the engine's paths)."""
    return [
        DOCKERD,
        f"--data-root={engine.data_root}",
        f"--exec-root={engine.exec_root}",
        f"--pidfile={engine.pidfile}",
        f"--host=unix://{engine.socket}",
        "--iptables=false",
        "--ip6tables=false",
        "--ip-forward=false",
        "--ip-masq=false",
        "--bridge=none",
        "--storage-driver=overlay2",
        "--exec-opt=native.cgroupdriver=cgroupfs",
        f"--add-runtime={RUNTIME_NAME}={engine.shim}",
        f"--default-runtime={RUNTIME_NAME}",
        # A lower score needs CAP_SYS_RESOURCE, which these machines drop.
        "--oom-score-adjust=0",
    ]


class DockerEngine:
    """Our dockerd for one kind state folder."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        digest = hashlib.sha256(str(state_dir.resolve()).encode()).hexdigest()[:10]
        self.run_dir = SOCKET_ROOT / f"kind-{digest}"

    @property
    def data_root(self) -> Path:
        return self.state_dir / "docker"

    @property
    def pidfile(self) -> Path:
        return self.state_dir / "dockerd.pid"

    @property
    def log_path(self) -> Path:
        return self.state_dir / "logs" / "dockerd.log"

    @property
    def exec_root(self) -> Path:
        return self.run_dir / "exec"

    @property
    def socket(self) -> Path:
        return self.run_dir / "docker.sock"

    @property
    def shim(self) -> Path:
        return self.run_dir / "runc"

    @property
    def client_dir(self) -> Path:
        """A folder with only ``docker`` in it, put first on PATH for kind."""
        return self.run_dir / "bin"

    def env(self) -> dict[str, str]:
        """The environment for ``docker`` and ``kind`` against this engine."""
        path = os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin")
        return {
            **os.environ,
            "DOCKER_HOST": f"unix://{self.socket}",
            "PATH": f"{self.client_dir}:{path}",
            "KIND_EXPERIMENTAL_PROVIDER": "docker",
        }

    def pid(self) -> int | None:
        """The pid of our dockerd when it runs (checked against its command line)."""
        try:
            pid = int(self.pidfile.read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError):
            return None
        return pid if f"--data-root={self.data_root}".encode() in cmdline else None

    def answers(self) -> bool:
        return _ping(self.socket)

    def start(self, progress: Progress) -> None:
        if self.pid() is not None and self.answers():
            return
        for folder in (self.data_root, self.log_path.parent, self.exec_root, self.client_dir):
            folder.mkdir(parents=True, exist_ok=True)
        self.shim.write_text(SHIM_SOURCE.read_text())
        self.shim.chmod(0o755)
        client = self.client_dir / "docker"
        if not client.is_symlink():
            client.symlink_to(DOCKER_CLIENT)
        progress(f"Starting our Docker engine (data in {self.data_root}; log: {self.log_path})")
        with self.log_path.open("a") as log:
            process = subprocess.Popen(
                dockerd_argv(self),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + START_TIMEOUT
        while not self.answers():
            if process.poll() is not None or time.monotonic() > deadline:
                tail = self.log_path.read_text(errors="replace").strip().splitlines()[-1:]
                raise EngineError(f"dockerd did not start: {' '.join(tail)}; log: {self.log_path}")
            time.sleep(0.3)

    def stop(self) -> bool:
        """Stop our dockerd and remove its run folder; False when it was not running."""
        pid = self.pid()
        if pid is not None:
            ticks = process_start_ticks(pid)
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + STOP_TIMEOUT
            while still_running(pid, ticks):
                if time.monotonic() > deadline:
                    raise EngineError(
                        f"dockerd (pid {pid}) did not stop within {STOP_TIMEOUT:.0f} s; "
                        f"log: {self.log_path}"
                    )
                time.sleep(0.2)
        # dockerd unmounts what it mounted on a clean stop; after a crash, we do.
        cleanup.unmount_all(self.data_root)
        cleanup.unmount_all(self.run_dir)
        shutil.rmtree(self.run_dir, ignore_errors=True)
        self.pidfile.unlink(missing_ok=True)
        return pid is not None

    def docker(self, *args: str, check: bool = True) -> str:
        """Run the Docker client against this engine; returns its output."""
        result = subprocess.run(
            [DOCKER_CLIENT, *args], env=self.env(), capture_output=True, text=True, check=False
        )
        if check and result.returncode != 0:
            raise EngineError(f"docker {' '.join(args[:3])} failed: {result.stderr.strip()}")
        return result.stdout


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: Path) -> None:
        super().__init__("localhost", timeout=5)
        self.path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(5)
        self.sock.connect(str(self.path))


def _ping(path: Path) -> bool:
    if not path.exists():
        return False
    connection = _UnixConnection(path)
    try:
        connection.request("GET", "/_ping")
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()
