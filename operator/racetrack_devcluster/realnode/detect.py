"""Can this machine run real pods? Answered up front, with a one-line reason if not.

Checks, in the order a user can act on them: root (containers, namespaces and cgroups need
it), the packages (see :mod:`.prereqs`), overlay support (containerd's snapshotter), the
cgroup controllers the kubelet needs, and whether a network namespace can be made. The
launcher falls back to simulated nodes when any check fails, and says which.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from racetrack_devcluster.realnode import prereqs

#: cgroup controllers without which the kubelet's container manager refuses to start.
REQUIRED_CONTROLLERS = ("cpu", "cpuacct", "cpuset", "memory", "pids")


@dataclass(frozen=True)
class Support:
    ok: bool
    reason: str = ""


def overlay_supported(filesystems: str) -> bool:
    """Whether ``/proc/filesystems`` text lists overlay (pure)."""
    return any(line.split()[-1] == "overlay" for line in filesystems.splitlines() if line.split())


def missing_controllers(proc_cgroups: str, v2_controllers: str | None) -> list[str]:
    """Controllers the kubelet needs that are not enabled (pure).

    ``proc_cgroups`` is ``/proc/cgroups`` (v1); ``v2_controllers`` the root's
    ``cgroup.controllers`` when the unified hierarchy is mounted at the root, else None.
    """
    if v2_controllers is not None:
        # cpuacct is part of cpu on v2.
        enabled = set(v2_controllers.split()) | {"cpuacct"}
    else:
        enabled = set()
        for line in proc_cgroups.splitlines():
            fields = line.split()
            # name, hierarchy id, count, enabled; a hierarchy id of 0 means not mounted.
            mounted = len(fields) == 4 and not line.startswith("#") and fields[1] != "0"
            if mounted and fields[3] == "1":
                enabled.add(fields[0])
    return [name for name in REQUIRED_CONTROLLERS if name not in enabled]


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text()
    except OSError:
        return None


def _netns_works() -> str:
    name = f"racetrack-probe-{os.getpid()}"
    result = subprocess.run(
        ["ip", "netns", "add", name], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        return result.stderr.strip() or f"ip netns add exited {result.returncode}"
    subprocess.run(["ip", "netns", "del", name], capture_output=True, check=False)
    return ""


def check(
    geteuid: Callable[[], int] = os.geteuid, netns_probe: Callable[[], str] = _netns_works
) -> Support:
    if geteuid() != 0:
        return Support(False, "real nodes need root (containers, cgroups, network namespaces)")
    missing = prereqs.missing_packages()
    if missing:
        return Support(
            False, f"missing packages: {', '.join(missing)} (install with: racetrack dev prereqs)"
        )
    if not overlay_supported(_read("/proc/filesystems") or ""):
        return Support(False, "the kernel has no overlay filesystem (containerd's snapshotter)")
    controllers = missing_controllers(
        _read("/proc/cgroups") or "", _read("/sys/fs/cgroup/cgroup.controllers")
    )
    if controllers:
        return Support(False, f"cgroup controllers not enabled: {', '.join(controllers)}")
    netns_error = netns_probe()
    if netns_error:
        return Support(False, f"cannot create a network namespace: {netns_error}")
    return Support(True)
