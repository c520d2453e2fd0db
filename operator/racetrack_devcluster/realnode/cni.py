"""The node's pod network: a bridge inside the node's namespace, host-local addresses.

``ipMasq`` makes pods' traffic leaving the namespace (to the API server on the host side of
the veth) carry the node's address, since the host has no route back to the pod range.
``hairpinMode`` lets a pod reach itself through its own Service. Debian's plugins live in
``/usr/lib/cni``; host-local keeps its leases under the node's folder, not ``/var/lib/cni``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

PLUGIN_DIR = Path("/usr/lib/cni")
REQUIRED_PLUGINS = ("bridge", "host-local", "loopback", "portmap")
BRIDGE_NAME = "cni0"


def conflist(pod_subnet: str, ipam_dir: Path) -> dict[str, Any]:
    return {
        "cniVersion": "1.0.0",
        "name": "racetrack",
        "plugins": [
            {
                "type": "bridge",
                "bridge": BRIDGE_NAME,
                "isGateway": True,
                "ipMasq": True,
                "hairpinMode": True,
                "ipam": {
                    "type": "host-local",
                    "ranges": [[{"subnet": pod_subnet}]],
                    "routes": [{"dst": "0.0.0.0/0"}],
                    "dataDir": str(ipam_dir),
                },
            },
            {"type": "portmap", "capabilities": {"portMappings": True}},
        ],
    }


def write(conf_dir: Path, pod_subnet: str, ipam_dir: Path) -> Path:
    conf_dir.mkdir(parents=True, exist_ok=True)
    path = conf_dir / "10-racetrack.conflist"
    path.write_text(json.dumps(conflist(pod_subnet, ipam_dir), indent=2))
    return path


def missing_plugins(plugin_dir: Path = PLUGIN_DIR) -> list[str]:
    return [name for name in REQUIRED_PLUGINS if not (plugin_dir / name).is_file()]
