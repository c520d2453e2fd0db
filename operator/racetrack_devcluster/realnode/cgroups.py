"""A cgroup parent per real node, so its pods never mix with anything else on the machine.

The kubelet (``cgroupDriver: cgroupfs``) puts ``kubepods`` under ``cgroupRoot`` and refuses
to start unless that cgroup exists in every hierarchy it uses. On cgroup v1 (this VM) that
means one folder per mounted controller; cpuset needs its ``cpus`` and ``mems`` copied from
the parent before anything may join it. On stop, processes left in the tree (containers whose
shim died) are killed — they are ours by construction, since only our node puts processes
there — and the folders are removed deepest first.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")


def is_v2(root: Path = CGROUP_ROOT) -> bool:
    return (root / "cgroup.controllers").exists()


def hierarchies(root: Path = CGROUP_ROOT) -> list[Path]:
    """Mounted v1 hierarchies (``cpu``, ``memory``, ...) or the v2 root."""
    if is_v2(root):
        return [root]
    return sorted(
        path
        for path in root.iterdir()
        if path.is_dir()
        and not path.is_symlink()
        and (path / "cgroup.procs").exists()
        and path.name != "unified"
    )


def create(name: str, root: Path = CGROUP_ROOT) -> None:
    for hierarchy in hierarchies(root):
        target = hierarchy / name
        target.mkdir(exist_ok=True)
        if hierarchy.name.startswith("cpuset") and not is_v2(root):
            for knob in ("cpuset.cpus", "cpuset.mems"):
                value = (hierarchy / knob).read_text().strip()
                if not (target / knob).read_text().strip():
                    (target / knob).write_text(value)


def _tree(top: Path) -> list[Path]:
    """Every cgroup folder under ``top``, deepest first."""
    if not top.is_dir():
        return []
    folders = [Path(d) for d, _, _ in os.walk(top)]
    return sorted(folders, key=lambda p: len(p.parts), reverse=True)


def pids(name: str, root: Path = CGROUP_ROOT) -> set[int]:
    found: set[int] = set()
    for hierarchy in hierarchies(root):
        for folder in _tree(hierarchy / name):
            with contextlib.suppress(OSError):
                found |= {int(p) for p in (folder / "cgroup.procs").read_text().split()}
    return found


def remove(name: str, root: Path = CGROUP_ROOT, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while (left := pids(name, root)) and time.monotonic() < deadline:
        for pid in left:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.1)
    for hierarchy in hierarchies(root):
        for folder in _tree(hierarchy / name):
            # A cgroup whose last task just died may be busy for a moment.
            for _ in range(50):
                try:
                    folder.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.1)
