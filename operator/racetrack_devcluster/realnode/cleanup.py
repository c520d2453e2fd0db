"""Undo what a real node leaves outside its processes: mounts, shims, containers.

containerd's shims outlive containerd by design (so containers survive a containerd
restart); for a throwaway node that means leftovers. We only ever touch what provably belongs
to this node: shims whose command line names this node's containerd socket, and mounts
under this node's folder.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import time
from pathlib import Path

_MNT_DETACH = 2


def mounts_under(folder: Path, mountinfo: str) -> list[Path]:
    """Mount points at or below ``folder`` from ``/proc/self/mountinfo`` text, deepest first."""
    prefix = str(folder).rstrip("/") + "/"
    found = []
    for line in mountinfo.splitlines():
        fields = line.split()
        if len(fields) > 4:
            # Octal escapes (\040 for a space) as the kernel writes them.
            point = fields[4].encode().decode("unicode_escape")
            if point == prefix.rstrip("/") or point.startswith(prefix):
                found.append(Path(point))
    return sorted(set(found), key=lambda p: len(p.parts), reverse=True)


def unmount_all(folder: Path) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    for point in mounts_under(folder, Path("/proc/self/mountinfo").read_text()):
        libc.umount2(str(point).encode(), _MNT_DETACH)


def processes_naming(needle: str) -> list[int]:
    """Pids whose command line contains ``needle`` (our socket path), never our own."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        with contextlib.suppress(OSError):
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            if needle in cmdline:
                found.append(int(entry.name))
    return found


def remove_containers(ctr_socket: Path) -> None:
    """Kill and delete every task and container of the node's CRI namespace."""
    ctr = ["ctr", f"--address={ctr_socket}", "--namespace=k8s.io"]

    def run(*args: str) -> str:
        result = subprocess.run(
            [*ctr, *args], capture_output=True, text=True, timeout=30, check=False
        )
        return result.stdout

    for task in run("tasks", "ls", "-q").split():
        run("tasks", "kill", "--all", "--signal=SIGKILL", task)
    time.sleep(0.2)
    for task in run("tasks", "ls", "-q").split():
        run("tasks", "delete", "--force", task)
    for container in run("containers", "ls", "-q").split():
        run("containers", "delete", container)


def kill_shims(ctr_socket: Path, timeout: float = 5.0) -> None:
    # Shims are started with "-address <socket>"; any still there after containerd stopped
    # are this node's and would otherwise live forever.
    deadline = time.monotonic() + timeout
    while (left := processes_naming(str(ctr_socket))) and time.monotonic() < deadline:
        for pid in left:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.1)
