#!/usr/bin/python3
"""runc, minus the capabilities the machine's bounding set lacks.

Docker gives a ``--privileged`` container (every kind node is one) every capability the
kernel knows. Where the machine itself runs without some (these VMs drop
``CAP_SYS_RESOURCE`` even for root), runc cannot grant them and every privileged container
fails with "unable to apply caps: operation not permitted". Our dockerd runs this script as
its runc: it removes from the container's (or ``exec``'s) capability sets only what the
bounding set lacks, then hands over to the real runc with the same arguments.

Standard library only: dockerd starts it with the system's Python, outside any venv.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

REAL_RUNC = "/usr/sbin/runc"
#: Capability names by number (linux/capability.h).
CAPABILITIES = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
]
_GLOBAL_FLAGS_WITH_VALUE = {"--root", "--log", "--log-format", "--criu", "--rootless"}


def missing_capabilities(status: str) -> set[str]:
    """Capabilities not in the bounding set given ``/proc/self/status`` text (pure)."""
    for line in status.splitlines():
        if line.startswith("CapBnd:"):
            bounding = int(line.split()[1], 16)
            return {name for bit, name in enumerate(CAPABILITIES) if not bounding >> bit & 1}
    return set()


def without(capabilities: dict[str, list[str]], missing: set[str]) -> dict[str, list[str]]:
    """Each capability set less ``missing`` (pure)."""
    return {kind: [c for c in names if c not in missing] for kind, names in capabilities.items()}


def spec_to_fix(argv: list[str]) -> tuple[Path, bool] | None:
    """The JSON file whose capabilities to fix, and whether it is a bundle's ``config.json``
    (``create``/``run``) rather than an ``exec`` process file; None for other commands (pure
    over the arguments)."""
    index = 0
    while index < len(argv) and argv[index].startswith("-"):
        flag = argv[index]
        index += 2 if flag in _GLOBAL_FLAGS_WITH_VALUE else 1
    if index >= len(argv):
        return None
    command, rest = argv[index], argv[index + 1 :]
    names = {"create": ("--bundle", "-b"), "run": ("--bundle", "-b"), "exec": ("--process", "-p")}
    if command not in names:
        return None
    for position, arg in enumerate(rest):
        for name in names[command]:
            if arg == name and position + 1 < len(rest):
                value = rest[position + 1]
            elif arg.startswith(name + "="):
                value = arg.split("=", 1)[1]
            else:
                continue
            return (
                (Path(value) / "config.json", True) if command != "exec" else (Path(value), False)
            )
    return (Path("config.json"), True) if command != "exec" else None


def fix(path: Path, is_bundle: bool, missing: set[str]) -> None:
    document = json.loads(path.read_text())
    process = document.get("process", {}) if is_bundle else document
    if "capabilities" in process:
        process["capabilities"] = without(process["capabilities"], missing)
        path.write_text(json.dumps(document))


def main() -> None:
    argv = sys.argv[1:]
    missing = missing_capabilities(Path("/proc/self/status").read_text())
    target = spec_to_fix(argv) if missing else None
    if target is not None and target[0].exists():
        fix(target[0], target[1], missing)
    os.execv(REAL_RUNC, [REAL_RUNC, *argv])


if __name__ == "__main__":
    main()
