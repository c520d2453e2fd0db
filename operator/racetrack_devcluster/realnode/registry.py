"""The distribution registry (Debian's ``docker-registry``) next to the dev cluster.

It listens on loopback, where images are pushed and named (``127.0.0.1:PORT/...``). Its
storage lives with the cluster's data (``<data>/registry/storage``): kept while the cluster
is only stopped, removed with it; the platform's images are pushed from the local image
store when the cluster starts. The registry keeps no other state, so stopping it loses nothing.

A real node's containerd runs in the node's network namespace, where ``127.0.0.1`` is the
node's own loopback. For it a second registry process serves the *same storage* on the host
side of the node's veth, and containerd maps the loopback name to that address. Two
processes over one filesystem store is how distribution scales out anyway; a single process
cannot listen on two addresses, and listening on all addresses would expose it.
"""

from __future__ import annotations

import urllib.request
from pathlib import Path

import yaml

REGISTRY = "/usr/bin/docker-registry"


def config(storage: Path, address: str) -> str:
    return yaml.safe_dump(
        {
            "version": 0.1,
            "log": {"level": "warn", "accesslog": {"disabled": True}},
            "storage": {
                "filesystem": {"rootdirectory": str(storage)},
                "delete": {"enabled": True},
                # Manifests are small; caching blob descriptors in memory saves disk reads.
                "cache": {"blobdescriptor": "inmemory"},
            },
            "http": {"addr": address},
        },
        sort_keys=False,
    )


def write_config(path: Path, storage: Path, address: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    storage.mkdir(parents=True, exist_ok=True)
    path.write_text(config(storage, address))
    return path


def argv(config_path: Path) -> list[str]:
    return [REGISTRY, "serve", str(config_path)]


def answers(base_url: str) -> bool:
    with urllib.request.urlopen(f"{base_url}/v2/", timeout=2) as response:
        return bool(response.status == 200)
