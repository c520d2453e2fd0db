"""The machine packages the dev cluster needs, and an idempotent installer for them.

Everything comes from Debian's packages (the only place these machines may get binaries
from): containerd and runc run containers, containernetworking-plugins gives the CNI
plugins, docker-registry is the distribution registry, debootstrap makes the base image's
root filesystem, iptables and conntrack are what kube-proxy drives, and HAProxy is the
gateway's data plane (on every dev cluster, real nodes or not). docker.io is the Docker
engine kind runs on (we start our own dockerd, see ``racetrack_devcluster.kind.engine``).
``racetrack dev prereqs`` installs whatever is missing (as root, with apt-get) and does
nothing when all is there.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable

#: Debian package -> a file it installs that we use (how we tell whether it is there).
PACKAGES: dict[str, str] = {
    "containerd": "/usr/bin/containerd",
    "runc": "/usr/sbin/runc",
    "containernetworking-plugins": "/usr/lib/cni/bridge",
    "docker-registry": "/usr/bin/docker-registry",
    "debootstrap": "/usr/sbin/debootstrap",
    "iptables": "/usr/sbin/iptables",
    "conntrack": "/usr/sbin/conntrack",
    "iproute2": "/usr/bin/ip",
    "util-linux": "/usr/bin/nsenter",
    "haproxy": "/usr/sbin/haproxy",
}

#: What kind needs beyond a real node: Debian's Docker engine (and its client).
KIND_PACKAGES: dict[str, str] = {
    "docker.io": "/usr/sbin/dockerd",
}


class PrereqError(RuntimeError):
    """The packages could not be installed; the message has apt-get's last words."""


def missing_packages(
    exists: Callable[[str], bool] = os.path.exists, packages: dict[str, str] = PACKAGES
) -> list[str]:
    return [package for package, path in packages.items() if not exists(path)]


def install_command(packages: list[str]) -> list[str]:
    return ["apt-get", "install", "-y", "--no-install-recommends", *packages]


def install(progress: Callable[[str], None]) -> list[str]:
    """Install what is missing; returns the packages installed (empty: nothing to do)."""
    missing = missing_packages(packages={**PACKAGES, **KIND_PACKAGES})
    if not missing:
        return []
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise PrereqError(
            f"missing packages {', '.join(missing)}; install them as root with: "
            f"{' '.join(install_command(missing))}"
        )
    progress(f"Installing {', '.join(missing)} from Debian's packages (first time only)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv in (["apt-get", "update", "-q"], install_command(missing)):
        result = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
        if result.returncode != 0:
            last = (result.stderr or result.stdout).strip().splitlines()[-1:]
            raise PrereqError(f"`{' '.join(argv)}` failed: {' '.join(last)}")
    # containerd's, docker.io's and docker-registry's packages would start system services
    # where systemd runs; we run our own instances and never use those.
    still = missing_packages(packages={**PACKAGES, **KIND_PACKAGES})
    if still:
        raise PrereqError(f"still missing after apt-get install: {', '.join(still)}")
    return missing
