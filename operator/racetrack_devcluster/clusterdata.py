"""What a stopped cluster keeps, so that starting it again resumes the same cluster.

A cluster's data folder holds etcd (every object), the CA and service-account keys, and, with
a real node, the registry's storage. Next to them ``cluster.json`` records what the processes
were started with and the data alone does not say: the ports (the kubeconfig names the API
server's; etcd stores its peer address) and a real node's name, which names its network
namespace, its cgroup and its folder under ``/var/lib/racetrack/nodes`` (containerd's
images). Resuming claims the same ports again where they are still free.

``discard`` removes all of it, including what a real node keeps outside the folder, for
``racetrack dev down`` of a cluster that is not running.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

from racetrack_devcluster.realnode import setup as realnode

_FILE = "cluster.json"


@dataclasses.dataclass
class SavedCluster:
    #: Port of each listener by component name, e.g. ``{"kube-apiserver": 24510}``.
    ports: dict[str, int] = dataclasses.field(default_factory=dict)
    #: A real node's suffix (``racetrack-<suffix>`` namespace); empty with simulated nodes.
    node_suffix: str = ""
    #: A real node's host-side address, which the API server listens on (and the kubeconfig
    #: names); taken again on resume where it is still free.
    node_host_ip: str = ""

    def save(self, data_dir: Path) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        temporary = data_dir / f".{_FILE}.tmp"
        temporary.write_text(json.dumps(dataclasses.asdict(self), indent=2))
        temporary.rename(data_dir / _FILE)


def load(data_dir: Path) -> SavedCluster | None:
    """The saved record, or None when there is no cluster to resume in ``data_dir``."""
    try:
        raw = json.loads((data_dir / _FILE).read_text())
        return SavedCluster(
            ports=dict(raw["ports"]),
            node_suffix=str(raw.get("node_suffix", "")),
            node_host_ip=str(raw.get("node_host_ip", "")),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def discard(work_dir: Path) -> None:
    """Remove a cluster that is not running: its data, its kubeconfig and any real node's
    leftovers (processes, cgroups, mounts, network namespace, containerd's folder)."""
    data_dir = work_dir / "data"
    saved = load(data_dir)
    if saved is not None and saved.node_suffix:
        realnode.discard(saved.node_suffix)
    shutil.rmtree(data_dir, ignore_errors=True)
    (work_dir / "kubeconfig").unlink(missing_ok=True)
